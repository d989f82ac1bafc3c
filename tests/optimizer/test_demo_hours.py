"""The optimizer demo's home (optimizer/examples.py) at every hour of the day.

`python -m optimizer demo` plans for "now", so the test of it (tests/optimizer/test_cli.py)
depends on the wall clock in Asia/Shanghai at which the suite happens to run. Here every
hour is planned, and the quarter hours at the departure rule's edges (01:30-01:45: the
same morning or the next; 05:15, 06:15: once too soon; 07:15-07:45: the departure
itself; 23:45): the plan must be `ok`, reach the car's target and leave at the next
07:30 at least 6 h away. (Every one of the 96 quarter hours passed when this was
written; scripts/demo-hours sweeps the real demo.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from optimizer import plan
from optimizer.examples import MIN_STAY, SHANGHAI, simulated_home

# 05:15 and 06:15: the car used to leave at 07:30 the same morning, too soon for its need.
EDGES = ["01:30", "01:45", "05:15", "06:15", "07:15", "07:30", "07:45", "23:45"]
TIMES = sorted({f"{h:02d}:00" for h in range(24)} | set(EDGES))


def test_the_times_cover_every_hour_and_the_edges() -> None:
    # 24 hours and 8 edge quarters not on the hour: 32 times, from 00:00 to 23:45.
    assert len(TIMES) == 32
    assert (TIMES[0], TIMES[-1]) == ("00:00", "23:45")


@pytest.mark.parametrize("hhmm", TIMES)
def test_the_demo_home_meets_its_target_at_every_hour(hhmm: str) -> None:
    hour, minute = map(int, hhmm.split(":"))
    now = datetime(2026, 12, 2, hour, minute, tzinfo=SHANGHAI)
    request = simulated_home(now)
    departure = datetime.fromisoformat(request["vehicle"]["departure"])
    # The next 07:30 at least 6 h away: 01:30 and earlier leave the same morning, later
    # ones the next (01:45 + 6 h = 07:45 is past 07:30). Never more than 30 h ahead.
    assert (departure.hour, departure.minute) == (7, 30)
    assert MIN_STAY <= departure - now <= timedelta(hours=30)
    response = plan(request)
    assert response["status"] == "ok", response["summary"]
    summary = response["summary"]
    # 30% -> 80% of 60 kWh: 30 kWh in the battery, 30 / 0.92 = 32.6087 kWh charged.
    assert summary["shortfall_kwh"] == 0.0
    assert summary["soc_at_departure_pct"] >= 80.0 - 1e-6
    assert summary["energy_kwh"] == pytest.approx(30 / 0.92, abs=1e-3)
    # Every slot before the departure; the last slot's soc is the target.
    last = response["slots"][-1]
    assert datetime.fromisoformat(last["end"]) <= departure
    assert last["soc_pct"] >= 80.0 - 1e-6
