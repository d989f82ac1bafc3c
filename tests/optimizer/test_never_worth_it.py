"""Slots whose switch is fixed off before HiGHS runs (`optimizer.model.never_worth_it`),
worked out by hand on the request of tests.optimizer.helpers: 18:00 -> 07:30 (54 slots),
30 kWh wanted at 100% efficiency, charger 4.1-11 kW, no PV, no import limit; Shanghai
TOU: 0.617 in slots 0-15 (18:00-22:00) and 48-53 (06:00-07:30), 0.307 in slots 16-47.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings

from optimizer import model, parse, plan
from optimizer.model import MIP_REL_GAP, never_worth_it, peak_gap, solve
from optimizer.problem import build
from tests.optimizer.helpers import EARLY, at, iv, request
from tests.optimizer.test_properties import requests


def _idle(**changes: object) -> set[int]:
    return never_worth_it(build(parse(request(**changes))))


def test_no_minimum_power_fixes_nothing() -> None:
    # Without a charger minimum a charging slot may store next to nothing: no count
    # of slots bounds a plan, so nothing can be ruled out.
    assert _idle(charger={"min_power_kw": 0.0}) == set()


def test_a_valley_too_short_for_the_count_fixes_nothing() -> None:
    # 30% -> 100% of 60 kWh: 42 kWh, at least 4.1 x 0.25 = 1.025 kWh a slot, so a plan
    # may charge in floor(42 / 1.025) = 40 slots; the valley has 32, so one of them is
    # not sure to be idle: the 41st cheapest price (0.617) is the threshold, and no
    # slot's price is above it.
    assert _idle(vehicle={"target_soc_pct": 100}) == set()


def test_paid_to_import_counts_the_whole_battery() -> None:
    # A negative price anywhere makes energy beyond the target worth buying, so the
    # count is the battery's room: 60 - 18 = 42 kWh -> 40 slots, more than the valley.
    prices = [iv("00:00", "06:00", 0.307), iv("06:00", "22:00", 0.617)]
    prices += [iv("22:00", "02:00", 0.307), iv("02:00", "03:00", -0.05, 1)]
    prices += [iv("03:00", "06:00", 0.307, 1), iv("06:00", "22:00", 0.617, 1)]
    assert _idle(prices={"import": prices}) == set()


def test_peak_slots_are_fixed_off_when_the_valley_holds_the_plan() -> None:
    # floor(30 / 1.025) = 29 slots at most; 32 valley slots, so a plan charging in a
    # peak slot leaves a valley slot idle. Moving it saves (0.617 - 0.307) x 4.1 x 0.25
    # = 0.318 at least, far above two starts and the per-kWh tie-breaks. All 22 peak
    # slots (0-15 and 48-53) are fixed off; the plans are the hand-worked ones.
    assert _idle() == set(range(16)) | set(range(48, 54))
    out = plan(request(preferences=EARLY))
    assert out["summary"]["cost"] == pytest.approx(9.21, abs=1e-6)
    assert all(at("22:00") <= s["start"] < at("06:00", 1) for s in out["slots"] if s["ev_kw"])


def test_pv_and_forced_slots_are_never_fixed() -> None:
    # PV 3 kW at 19:00-20:00 under a 0.5 kW house: those 4 peak slots have a surplus
    # and stay with HiGHS; a minimum SoC of 40% forces 6 kWh at once from 18:00
    # (11 kW x 0.25 h = 2.75 kWh a slot: slots 0-2), which are never fixed either.
    idle = _idle(
        pv_kw=[iv("19:00", "20:00", 3.0)],
        base_load_kw=[iv("18:00", "07:30", 0.5)],
        vehicle={"min_soc_pct": 40},
    )
    assert idle.isdisjoint({0, 1, 2, 4, 5, 6, 7})
    assert set(range(8, 16)) <= idle


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_fixing_never_changes_the_optimum(req: dict[str, Any]) -> None:
    # The MILP with the switches fixed off and without: the same optimal objective,
    # to the MIP gaps HiGHS works to (each solve stops within them of its optimum).
    # About one random request in five has switches to fix (prices vary by the hour).
    problem = build(parse(req))
    if problem.request.mode != "smart" or not never_worth_it(problem):
        return
    fixed = solve(problem, 30.0)
    with patch.object(model, "never_worth_it", lambda _: set()):
        free = solve(problem, 30.0)
    assert fixed.optimal
    assert free.optimal
    gap = peak_gap(problem) + MIP_REL_GAP * (abs(fixed.objective) + abs(free.objective))
    assert abs(fixed.objective - free.objective) <= 2 * gap + 1e-7
