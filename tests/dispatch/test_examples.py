"""The documented example events (docs/dispatch/*.json): each parses, and means what
its name says. Times: 14:00 UTC is 22:00 in Shanghai, the home of the component tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from custom_components.evflex.dispatch.events import parse

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
DOCS = Path(__file__).parents[2] / "docs" / "dispatch"
H14, H15, H16 = (f"2026-11-29T{h}:00:00+00:00" for h in (14, 15, 16))
D10, D12 = "2026-11-30T10:00:00+00:00", "2026-11-30T12:00:00+00:00"


def _read(name: str) -> tuple[list[tuple[str, str, str, float]], float, bool, str]:
    event = parse(json.loads((DOCS / name).read_text(encoding="utf-8")), NOW)
    parts = [(p.kind, p.start.isoformat(), p.end.isoformat(), p.value) for p in event.parts]
    return parts, event.randomize_s, event.capacity, event.source


def test_every_example_is_listed_here() -> None:
    assert sorted(p.name for p in DOCS.glob("*.json")) == sorted(
        f"{name}.{form}.json"
        for name in ("feeder-cap", "load-reduction", "day-ahead-capacity")
        for form in ("native", "openadr3")
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # The site imports at most 7 kW for two hours, start spread over 5 minutes.
        ("feeder-cap.native.json", ([("import_limit", H14, H16, 7.0)], 300.0, False, "native")),
        # The same feeder in OpenADR 3: 7 kW, then 5 kW (two PT1H intervals), PT5M spread.
        (
            "feeder-cap.openadr3.json",
            (
                [("import_limit", H14, H15, 7.0), ("import_limit", H15, H16, 5.0)],
                300.0,
                False,
                "openadr3",
            ),
        ),
        # 3 kW below the baseline for an hour (OpenADR: DISPATCH_SETPOINT_RELATIVE -3 KW).
        ("load-reduction.native.json", ([("reduction", H14, H15, 3.0)], 0.0, False, "native")),
        (
            "load-reduction.openadr3.json",
            ([("reduction", H14, H15, 3.0)], 0.0, False, "openadr3"),
        ),
        # Tomorrow 18:00-20:00 Shanghai: 4 kW of capacity (OpenADR: -4000 W, PT10M spread).
        (
            "day-ahead-capacity.native.json",
            ([("reduction", D10, D12, 4.0)], 0.0, True, "native"),
        ),
        (
            "day-ahead-capacity.openadr3.json",
            ([("reduction", D10, D12, 4.0)], 600.0, False, "openadr3"),
        ),
    ],
)
def test_example(
    name: str, expected: tuple[list[tuple[str, str, str, float]], float, bool, str]
) -> None:
    assert _read(name) == expected
