"""OpenADR 3 events made by code nobody here wrote: the `openadr3` package (0.5.0).

Built with its raw models and serialised the way it does (every unset field as null,
the notification wrapper in snake_case, CRUD operation names): EVFlex reads each one,
and reads the same windows and values as the package's own `resolved_intervals()`.
The documented examples in docs/dispatch are read by the package the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openadr3
import pytest
from openadr3.entities import raw

from custom_components.evflex.dispatch.events import Event, EventError, parse

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
DOCS = Path(__file__).parents[2] / "docs" / "dispatch"


def _event(payload: str, units: str | None, values: list[Any]) -> raw.RawEvent:
    """An event made by the package's raw model (validated by it, camelCase on the wire)."""
    return raw.RawEvent.model_validate(
        {
            "id": "oa3-1",
            "programID": "feeder-7",
            "eventName": "built with openadr3",
            "priority": 1,
            "modificationDateTime": "2026-11-29T09:00:00Z",
            "payloadDescriptors": [
                {
                    "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                    "payloadType": payload,
                    "units": units,
                }
            ],
            "intervalPeriod": {
                "start": "2026-11-29T14:00:00Z",
                "duration": "PT1H",
                "randomizeStart": "PT5M",
            },
            "intervals": [
                {"id": i, "payloads": [{"type": payload, "values": [v]}]}
                for i, v in enumerate(values)
            ],
        }
    )


def _wire(model: Any) -> Any:
    """What goes on the wire: the package's own serialisation, through JSON."""
    return json.loads(json.dumps(model.model_dump(by_alias=True)))


def _meaning(event: Event) -> list[tuple[str, str, str, float]]:
    return [(p.kind, p.start.isoformat(), p.end.isoformat(), p.value) for p in event.parts]


def _package_meaning(obj: Any, kind: str, scale: float) -> list[tuple[str, str, str, float]]:
    """The same event as the package reads it: its resolved windows and values (times
    `scale`: the unit, and -1 for a reduction, which OpenADR sends as a negative)."""
    event = openadr3.coerce(obj)
    assert isinstance(event, openadr3.Event)
    out = []
    for interval in event.resolved_intervals():
        assert interval.interval_period is not None
        period = interval.interval_period.period
        assert period is not None
        start, end = period
        value = float(interval.payloads[0].values[0]) * scale
        out.append((kind, start.isoformat(), end.isoformat(), value))
    return [(k, _iso(s), _iso(e), v) for k, s, e, v in out]


def _iso(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).isoformat()


def test_a_null_where_evflex_reads_a_value_is_still_refused() -> None:
    body = _wire(_event("IMPORT_CAPACITY_LIMIT", "KW", [7.0]))
    body["intervals"][0]["payloads"][0]["values"] = [None]
    with pytest.raises(EventError) as err:
        parse(body, NOW)
    assert str(err.value) == "intervals[0].payloads[0].values[0]: must be a number"


def test_an_unknown_operation_name_is_refused() -> None:
    body = _wire(raw.RawNotification(object_type="EVENT", operation="READ", object={}))
    with pytest.raises(EventError) as err:
        parse(body, NOW)
    assert str(err.value) == "operation: must be one of POST, PUT, DELETE, CREATE, UPDATE"


def test_an_import_cap_built_with_the_package_means_what_it_says() -> None:
    # Two hours from 22:00 in Shanghai (14:00 UTC): 7 kW, then 5 kW; PT5M = 300 s.
    model = _event("IMPORT_CAPACITY_LIMIT", "KW", [7.0, 5.0])
    body = _wire(model)
    assert body["createdDateTime"] is None  # the package sends unset fields as null
    event = parse(body, NOW)
    assert _meaning(event) == [
        ("import_limit", "2026-11-29T14:00:00+00:00", "2026-11-29T15:00:00+00:00", 7.0),
        ("import_limit", "2026-11-29T15:00:00+00:00", "2026-11-29T16:00:00+00:00", 5.0),
    ]
    assert _meaning(event) == _package_meaning(body, "import_limit", 1.0)
    assert (event.randomize_s, event.priority, event.programme) == (300.0, 1, "feeder-7")


def test_a_reduction_in_watts_built_with_the_package() -> None:
    # DISPATCH_SETPOINT_RELATIVE -3000 W: 3 kW below the baseline.
    body = _wire(_event("DISPATCH_SETPOINT_RELATIVE", "W", [-3000]))
    event = parse(body, NOW)
    assert _meaning(event) == [
        ("reduction", "2026-11-29T14:00:00+00:00", "2026-11-29T15:00:00+00:00", 3.0)
    ]
    assert _meaning(event) == _package_meaning(body, "reduction", -0.001)


def test_a_price_built_with_the_package() -> None:
    body = _wire(_event("PRICE", None, [0.12, -0.05]))
    event = parse(body, NOW)
    assert [p.value for p in event.parts] == [0.12, -0.05]
    assert _meaning(event) == _package_meaning(body, "price", 1.0)


@pytest.mark.parametrize(("operation", "cancel"), [("CREATE", False), ("UPDATE", False)])
def test_the_packages_notification_wrapper(operation: str, cancel: bool) -> None:
    """RawNotification: snake_case `object_type`, CRUD operation names, nulls."""
    obj = _wire(_event("SIMPLE", None, [2]))
    body = _wire(raw.RawNotification(object_type="EVENT", operation=operation, object=obj))
    assert "object_type" in body
    assert openadr3.is_notification(body)
    event = parse(body, NOW)
    assert (event.id, event.cancel, [p.value for p in event.parts]) == ("oa3-1", cancel, [2.0])
    coerced = openadr3.coerce_notification(body).object
    assert isinstance(coerced, openadr3.Event)
    assert coerced.id == event.id


def test_a_delete_from_the_package_cancels_by_id() -> None:
    obj = _wire(_event("SIMPLE", None, [1]))
    body = _wire(raw.RawNotification(object_type="EVENT", operation="DELETE", object=obj))
    event = parse(body, NOW)
    assert (event.id, event.cancel, event.parts) == ("oa3-1", True, ())


@pytest.mark.parametrize(
    ("name", "kind", "scale"),
    [
        ("feeder-cap.openadr3.json", "import_limit", 1.0),
        ("load-reduction.openadr3.json", "reduction", -1.0),
        ("day-ahead-capacity.openadr3.json", "reduction", -0.001),
    ],
)
def test_the_documented_examples_read_the_same_with_the_package(
    name: str, kind: str, scale: float
) -> None:
    body = json.loads((DOCS / name).read_text(encoding="utf-8"))
    assert openadr3.is_notification(body)
    obj = body["object"]
    assert _meaning(parse(body, NOW)) == _package_meaning(obj, kind, scale)
