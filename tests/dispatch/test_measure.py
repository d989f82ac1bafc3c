"""Metering and measuring an event's delivery (pure, hand-worked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custom_components.evflex.dispatch.book import Record, Slot
from custom_components.evflex.dispatch.events import Event, Part
from custom_components.evflex.dispatch.reports import measure, spread

T = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
Q = timedelta(minutes=15)


def test_spread_shares_the_energy_over_the_quarter_hours_by_time() -> None:
    # 0.9 kWh from 10:10 to 10:25: 5 min in the 10:00 quarter (0.3), 10 in the 10:15 (0.6).
    got = spread(0.9, T + timedelta(minutes=10), T + timedelta(minutes=25))
    assert [(slot, round(kwh, 6)) for slot, _, kwh in got] == [
        ("2026-11-29T10:00:00+00:00", 0.3),
        ("2026-11-29T10:15:00+00:00", 0.6),
    ]
    assert [moment for _, moment, _ in got] == [
        T + timedelta(minutes=12, seconds=30),
        T + timedelta(minutes=20),
    ]
    # Keys are UTC whatever the offset the times come in.
    shanghai = (T + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=8)))
    assert (
        spread(0.1, shanghai, shanghai + timedelta(minutes=1))[0][0] == "2026-11-29T10:00:00+00:00"
    )


def test_measure_counts_only_the_part_the_home_was_bound() -> None:
    event = Event(
        id="e",
        cancel=False,
        modified=T,
        priority=0,
        parts=(Part("ev_limit", T, T + 2 * Q, 4.0),),
    )
    local = datetime.fromisoformat("2026-11-29T18:00:00+08:00")  # = T, as plans write it
    record = Record(
        event,
        baseline=(Slot(local, local + Q, 8.0), Slot(local + Q, local + 2 * Q, 8.0)),
        received=T + timedelta(minutes=5),
    )
    metered = {"2026-11-29T10:00:00+00:00": 0.5, "2026-11-29T10:15:00+00:00": 0.3}
    got = measure(record, metered, T + timedelta(minutes=20), "cancelled")
    # Bound from 10:05 (received) to 10:20 (cancelled): 8 kW x 10 min = 1.3333 kWh and
    # 8 kW x 5 min = 0.6667 kWh: 2.0 kWh; drawn 0.8; delivered 1.2 kWh over 15 min: 4.8 kW.
    assert [r["baseline_kwh"] for r in got["intervals"]] == [1.3333, 0.6667]
    assert got["baseline_kwh"] == pytest.approx(2.0)
    assert got["metered_kwh"] == pytest.approx(0.8)
    assert got["delivered_kwh"] == pytest.approx(1.2)
    assert got["delivered_kw"] == pytest.approx(4.8)
    # A randomized start at 10:10 binds it from then: 8 x 5 min + 8 x 5 min = 1.3334.
    later = measure(
        record, metered, T + timedelta(minutes=20), "cancelled", T + 10 * timedelta(minutes=1)
    )
    assert later["baseline_kwh"] == pytest.approx(1.3334)
