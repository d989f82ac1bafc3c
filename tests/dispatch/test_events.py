"""Dispatch requests -> events: native JSON and OpenADR 3; every refusal names its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.evflex.dispatch.events import (
    EventError,
    Unsupported,
    duration,
    parse,
)

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def native(**changes: Any) -> dict[str, Any]:
    return {
        "id": "feeder-7",
        "type": "ev_limit",
        "start": "2026-11-29T14:00:00Z",
        "end": "2026-11-29T16:00:00Z",
        "limit_kw": 3.0,
        **changes,
    }


def oadr(**changes: Any) -> dict[str, Any]:
    event = {
        "id": "evt-44",
        "programID": "44",
        "eventName": "capacity_limit_Event",
        "modificationDateTime": "2026-11-29T09:00:00Z",
        "intervalPeriod": {"start": "2026-11-29T14:00:00Z", "duration": "PT30M"},
        "payloadDescriptors": [
            {"payloadType": "IMPORT_CAPACITY_LIMIT", "units": "KW"},
            {"payloadType": "EXPORT_CAPACITY_LIMIT", "units": "KW"},
        ],
        "intervals": [
            {
                "id": 0,
                "payloads": [
                    {"type": "IMPORT_CAPACITY_LIMIT", "values": [10.0]},
                    {"type": "EXPORT_CAPACITY_LIMIT", "values": [4.0]},
                ],
            },
            {"id": 1, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [6.0]}]},
        ],
        **changes,
    }
    return {"objectType": "EVENT", "operation": "POST", "object": event}


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ([], "body", 400),
        ("x", "body", 400),
        (native(id=""), "id", 400),
        (native(id=7), "id", 400),
        (native(limit_kw="3"), "limit_kw", 400),
        (native(limit_kw=-1), "limit_kw", 400),
        (native(limit_kw=float("nan")), "limit_kw", 400),
        (native(limit_kw=True), "limit_kw", 400),
        (native(start="tomorrow"), "start", 400),
        (native(start="2026-11-29T14:00:00"), "start", 400),  # no offset
        (native(end="2026-11-29T13:00:00Z"), "end", 400),  # before start
        (native(end="2026-11-29T09:00:00Z", start="2026-11-29T08:00:00Z"), "end", 400),
        (native(start="2026-12-20T14:00:00Z", end="2026-12-20T15:00:00Z"), "start", 400),
        (native(colour="red"), "colour", 400),
        (native(type="warp"), "type", 400),
        (
            {
                "id": "a",
                "type": "reduction",
                "start": "2026-11-29T14:00:00Z",
                "end": "2026-11-29T15:00:00Z",
            },
            "reduction_kw",
            400,
        ),
        ({k: v for k, v in native().items() if k != "type"}, "type", 400),
        ({"objectType": "REPORT", "operation": "POST", "object": {}}, "objectType", 422),
        ({"objectType": "EVENT", "operation": "PATCH", "object": {}}, "operation", 400),
        (oadr(intervals=[]), "object.intervals", 400),
        (oadr(programID=None), "object.programID", 400),
        (
            oadr(intervalPeriod={"start": "2026-11-29T14:00:00Z", "duration": "30 minutes"}),
            "object.intervalPeriod.duration",
            400,
        ),
        (
            oadr(intervals=[{"id": 0, "payloads": [{"type": "GHG", "values": [300]}]}]),
            "object.intervals[0].payloads[0].type",
            422,
        ),
        (
            oadr(intervals=[{"id": 0, "payloads": [{"type": "SIMPLE", "values": [7]}]}]),
            "object.intervals[0].payloads[0].values[0]",
            400,
        ),
        (
            oadr(intervals=[{"id": 0, "payloads": [{"type": "PRICE", "values": ["cheap"]}]}]),
            "object.intervals[0].payloads[0].values[0]",
            400,
        ),
        (
            oadr(
                intervals=[
                    {"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [2.0]}]}
                ]
            ),
            "object.intervals[0].payloads[0].values[0]",
            422,
        ),
    ],
)
def test_refusals_name_the_field(body: Any, field: str, status: int) -> None:
    with pytest.raises(EventError) as caught:
        parse(body, NOW)
    assert caught.value.field == field
    assert caught.value.status == status
    assert str(caught.value).startswith(f"{field}: ")


def test_native_limit() -> None:
    event = parse(native(priority=2, randomize_start_s=300), NOW)
    assert (event.id, event.cancel, event.priority, event.randomize_s) == (
        "feeder-7",
        False,
        2,
        300,
    )
    (part,) = event.parts
    assert (part.kind, part.value) == ("ev_limit", 3.0)
    assert part.start == datetime(2026, 11, 29, 14, tzinfo=UTC)
    assert event.modified == NOW  # no modification time: the time it arrived


def test_native_capacity_is_a_reduction_notified_ahead() -> None:
    body = native(
        type="capacity", reduction_kw=5.0, start="2026-11-30T09:00:00Z", end="2026-11-30T11:00:00Z"
    )
    body.pop("limit_kw")
    event = parse(body, NOW)
    assert event.capacity
    assert [(p.kind, p.value) for p in event.parts] == [("reduction", 5.0)]


def test_native_price_series_and_cancel() -> None:
    body = {
        "id": "p",
        "type": "price",
        "series": [
            {"start": "2026-11-29T14:00:00Z", "end": "2026-11-29T15:00:00Z", "value": 0.1},
            {"start": "2026-11-29T15:00:00Z", "end": "2026-11-29T16:00:00Z", "value": 0.9},
        ],
    }
    assert [p.value for p in parse(body, NOW).parts] == [0.1, 0.9]
    cancel = parse({"id": "p", "cancel": True, "modified": "2026-11-29T10:05:00Z"}, NOW)
    assert cancel.cancel
    assert cancel.parts == ()


def test_openadr_intervals_follow_each_other() -> None:
    event = parse(oadr(), NOW)
    assert event.source == "openadr3"
    assert event.programme == "44"
    spans = [
        (p.kind, p.start.strftime("%H:%M"), p.end.strftime("%H:%M"), p.value) for p in event.parts
    ]
    # interval 0 at the event's start, 30 min; interval 1 follows it: 14:30-15:00.
    assert spans == [
        ("import_limit", "14:00", "14:30", 10.0),
        ("export_limit", "14:00", "14:30", 4.0),
        ("import_limit", "14:30", "15:00", 6.0),
    ]
    assert event.priority == 1_000_000  # no priority: the lowest


def test_openadr_units_randomize_and_delete() -> None:
    body = oadr(
        payloadDescriptors=[{"payloadType": "IMPORT_CAPACITY_LIMIT", "units": "W"}],
        intervalPeriod={
            "start": "2026-11-29T14:00:00Z",
            "duration": "PT1H",
            "randomizeStart": "PT5M",
        },
        intervals=[{"id": 0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [7500]}]}],
        priority=3,
    )
    event = parse(body, NOW)
    assert event.parts[0].value == pytest.approx(7.5)  # 7500 W
    assert event.randomize_s == 300
    assert event.priority == 3
    gone = parse({"objectType": "EVENT", "operation": "DELETE", "object": {"id": "evt-44"}}, NOW)
    assert gone.cancel
    assert gone.id == "evt-44"


def test_relative_setpoint_is_a_reduction() -> None:
    body = oadr(
        intervals=[
            {"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-2.5]}]}
        ]
    )
    assert [(p.kind, p.value) for p in parse(body, NOW).parts] == [("reduction", 2.5)]


@pytest.mark.parametrize(
    ("text", "minutes"), [("PT30M", 30), ("PT1H30M", 90), ("P1D", 1440), ("PT45S", 0.75)]
)
def test_durations(text: str, minutes: float) -> None:
    assert duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["P", "PT", "30M", "P9999Y", "P10D", "PT1.5H"])
def test_bad_durations(text: str) -> None:
    import voluptuous as vol

    with pytest.raises(vol.Invalid):
        duration(text)


def test_unsupported_is_an_event_error() -> None:
    assert issubclass(Unsupported, EventError)
