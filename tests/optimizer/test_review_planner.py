"""A hostile review of the home planner's preference and its HiGHS use (issue 9).

Each test either shows a behaviour judged right, or pins a break: a break is marked
`xfail(strict=True)` with the reason, so it fails the suite the day it is fixed
without the test being turned into a plain one.

Unless said otherwise the request is tests.optimizer.helpers' BASE: 18:00 -> 07:30,
30 kWh wanted at 100% efficiency, charger 4.1-11 kW (gentle power max(4.1, 25% of 11)
= 4.1 kW), Shanghai TOU valley 0.307 CNY/kWh from 22:00 to 06:00, peak 0.617.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer import PlanError, plan
from optimizer.model import tie_break_budget
from optimizer.problem import build
from optimizer.request import parse
from tests.optimizer.helpers import DAY, EARLY, at, charging, in_fresh_process, iv, request
from tests.optimizer.test_properties import requests

ROOT = Path(__file__).resolve().parents[2]
GF_29 = 30 / (29 * 0.25)  # 30 kWh over 29 slots of 15 min: 4.1379 kW (see flat profile)


def _with(req: dict[str, Any], **prefs: Any) -> dict[str, Any]:
    out = copy.deepcopy(req)
    out["preferences"] = {**out.get("preferences", {}), **prefs}
    return out


def _both(req: dict[str, Any], **prefs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(grid_friendly, as_early_as_possible) responses for one request."""
    return plan(_with(req, **prefs)), plan(_with(req, **EARLY))


def _peak(response: dict[str, Any]) -> float:
    return max(float(s["ev_kw"]) for s in response["slots"])


def _starts(response: dict[str, Any]) -> int:
    kw = [s["ev_kw"] for s in response["slots"]]
    return sum(1 for t, x in enumerate(kw) if x > 0 and (t == 0 or kw[t - 1] == 0))


# --- unhappy paths: bad preferences are refused, naming the field and the rule ------


@pytest.mark.parametrize(
    ("prefs", "field", "rule"),
    [
        ({"ready_margin_minutes": math.nan}, "preferences.ready_margin_minutes", "finite"),
        ({"ready_margin_minutes": 1440.5}, "preferences.ready_margin_minutes", "between 0"),
        ({"cost_tolerance_pct": -0.1}, "preferences.cost_tolerance_pct", "between 0 and 10"),
        ({"cost_tolerance_pct": 10.01}, "preferences.cost_tolerance_pct", "between 0 and 10"),
        ({"cost_tolerance_pct": math.inf}, "preferences.cost_tolerance_pct", "finite"),
        ({"spread_key": "x" * 65}, "preferences.spread_key", "at most 64 characters"),
        ({"spread_key": "   "}, "preferences.spread_key", "non-empty"),
        ({"spread_key": 7}, "preferences.spread_key", "string"),
        ({"profile": None}, "preferences.profile", "must be one of"),
    ],
)
def test_bad_preferences_name_the_field_and_the_rule(
    prefs: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(PlanError) as caught:
        plan(request(preferences=prefs))
    assert caught.value.field == field
    assert rule in caught.value.rule


def test_a_nan_price_or_a_negative_minimum_is_refused_by_name() -> None:
    req = request()
    req["prices"]["import"][0]["value"] = math.nan
    with pytest.raises(PlanError) as caught:
        plan(req)
    assert (caught.value.field, caught.value.rule) == (
        "prices.import[0].value",
        "must be a finite number",
    )
    with pytest.raises(PlanError) as caught:
        plan(request(charger={"min_power_kw": -1}))
    assert caught.value.field == "charger.min_power_kw"


@pytest.mark.parametrize("tolerance", [0, 10])
def test_cost_tolerance_at_its_bounds_costs_nothing_here(tolerance: float) -> None:
    # The flat valley plan is free: 30 kWh x 0.307 = 9.21 at either bound.
    out = plan(request(preferences={"cost_tolerance_pct": tolerance}))
    assert out["summary"]["cost"] == pytest.approx(9.21)
    assert _peak(out) == pytest.approx(GF_29, abs=1e-4)


# --- hand-worked cases judged right ----------------------------------------------


@pytest.mark.parametrize(
    ("slot", "count", "kw"),
    [
        # The valley 22:00-06:00 in slots of h hours; a slot at the gentle 4.1 kW stores
        # 4.1 h kWh, so the most slots for 30 kWh is floor(30 / (4.1 h)) at 30 / (n h):
        (5, 87, 30 / (87 / 12)),  # floor(30 / 0.34167) = 87 -> 4.1379 kW
        (20, 21, 30 / (21 / 3)),  # floor(30 / 1.36667) = 21 -> 4.2857 kW
        (60, 7, 30 / 7),  # floor(30 / 4.1) = 7 -> 4.2857 kW
    ],
)
def test_odd_slot_lengths_get_the_flat_valley_profile(slot: int, count: int, kw: float) -> None:
    out = plan(request(slot_minutes=slot))
    got = charging(out)
    assert len(got) == count
    assert all(x == pytest.approx(kw, abs=1e-4) for _, x in got)
    assert all(s["import_price"] == pytest.approx(0.307) for s in out["slots"] if s["ev_kw"])
    assert out["summary"]["cost"] == pytest.approx(9.21)  # 30 x 0.307
    assert _starts(out) == 1


def test_a_departure_at_an_odd_minute_keeps_the_flat_plan() -> None:
    # 07:37: the 07:30-07:45 slot does not end by then; ready by 06:37 is after the valley,
    # so the plan is the 07:30 one: 29 slots at 4.1379 kW, 9.21.
    out = plan(request(vehicle={"departure": at("07:37", 1)}))
    assert len(charging(out)) == 29
    assert _peak(out) == pytest.approx(GF_29, abs=1e-4)
    assert out["summary"]["cost"] == pytest.approx(9.21)
    assert out["status"] == "ok"


def test_a_ready_margin_longer_than_the_window_never_costs_the_target() -> None:
    # Ready 24 h before a departure 13.5 h away: the soft margin cannot be met at all; the
    # target (hard) still is, at the valley's price and the flat peak.
    out = plan(request(preferences={"ready_margin_minutes": 1440}))
    assert out["status"] == "ok"
    assert out["summary"]["soc_at_departure_pct"] == pytest.approx(80.0)
    assert out["summary"]["cost"] == pytest.approx(9.21)
    assert _peak(out) == pytest.approx(GF_29, abs=1e-4)


def test_a_window_too_short_for_the_need_costs_what_asap_costs() -> None:
    # Departure 23:00: the valley holds 4 slots x 11 kW x 0.25 h = 11 kWh at 0.307, the
    # other 19 kWh come at 0.617: 3.377 + 11.723 = 15.10 either way, at full power.
    gf, asap = _both(request(vehicle={"departure": at("23:00")}))
    assert gf["summary"]["cost"] == pytest.approx(15.10) == asap["summary"]["cost"]
    assert gf["status"] == asap["status"] == "ok"
    assert _peak(gf) == pytest.approx(11.0)


def test_an_unreachable_target_has_the_same_shortfall_either_way() -> None:
    # Departure 19:00: 4 slots x 11 kW x 0.25 h = 11 kWh of the 30: 19 kWh short.
    gf, asap = _both(request(vehicle={"departure": at("19:00")}))
    assert gf["status"] == asap["status"] == "target_unreachable"
    assert gf["summary"]["shortfall_kwh"] == pytest.approx(19.0) == asap["summary"]["shortfall_kwh"]


def test_a_horizon_across_the_end_of_summer_time() -> None:
    # Berlin, night of 24-25 October 2026: 03:00 CEST (+02:00) becomes 02:00 CET (+01:00).
    # Valley 22:00 CEST -> 06:00 CET is 9 real hours (36 slots); 30 kWh still takes
    # 29 slots at the gentle power -> 4.1379 kW, 30 x 0.307 = 9.21, one block.
    cest, cet = timezone(timedelta(hours=2)), timezone(timedelta(hours=1))
    start = datetime(2026, 10, 24, 18, 0, tzinfo=cest)
    valley = (datetime(2026, 10, 24, 22, 0, tzinfo=cest), datetime(2026, 10, 25, 6, 0, tzinfo=cet))
    end = datetime(2026, 10, 25, 8, 0, tzinfo=cet)
    prices = [
        {"start": start.isoformat(), "end": valley[0].isoformat(), "value": 0.617},
        {"start": valley[0].isoformat(), "end": valley[1].isoformat(), "value": 0.307},
        {"start": valley[1].isoformat(), "end": end.isoformat(), "value": 0.617},
    ]
    req = request(start=start.isoformat(), prices={"import": prices})
    req["vehicle"]["departure"] = datetime(2026, 10, 25, 7, 30, tzinfo=cet).isoformat()
    out = plan(req)
    assert len(out["slots"]) == 4 * 14 + 2  # 18:00 CEST -> 07:30 CET is 14.5 h
    on = [s for s in out["slots"] if s["ev_kw"] > 0]
    assert len(on) == 29
    assert _starts(out) == 1
    assert all(s["ev_kw"] == pytest.approx(GF_29, abs=1e-4) for s in on)
    assert out["summary"]["cost"] == pytest.approx(9.21)
    for a, b in zip(out["slots"], out["slots"][1:], strict=False):
        assert datetime.fromisoformat(a["end"]) == datetime.fromisoformat(b["start"])


def test_an_ev_limit_and_an_import_limit_still_win_over_the_preference() -> None:
    # ev_limit 5 kW from 22:00 to 02:00 (a 3 kW limit would be below the charger's 4.1 kW
    # minimum: no charging there at all). The valley still holds the 30 kWh: 9.21 both ways.
    limit = {"id": "e", "type": "ev_limit", "start": at("22:00"), "end": at("02:00", 1)}
    gf, asap = _both(request(signals=[{**limit, "limit_kw": 5.0}]))
    assert gf["summary"]["cost"] == pytest.approx(9.21) == asap["summary"]["cost"]
    for out in (gf, asap):
        held = [s for s in out["slots"] if at("22:00") <= s["start"] < at("02:00", 1)]
        assert all(s["ev_kw"] <= 5.0 + 1e-6 for s in held)
    # An import limit of 5 kW with a 1 kW base load over the valley: the car at most 4 kW.
    imp = {"id": "i", "type": "import_limit", "start": at("22:00"), "end": at("06:00", 1)}
    base = [iv("18:00", "07:30", 1.0, 0, 1)]
    out = plan(request(signals=[{**imp, "limit_kw": 5.0}], base_load_kw=base))
    assert all(s["grid_kw"] <= 5.0 + 1e-6 for s in out["slots"] if s["import_price"] < 0.5)


def test_one_spread_key_is_reproducible_and_keys_spread_the_start() -> None:
    firsts = []
    for key in ("home-a", "home-b", "home-c", "home-d", "home-e", "home-f"):
        one = charging(plan(request(preferences={"spread_key": key})))
        assert one == charging(plan(request(preferences={"spread_key": key})))
        firsts.append(one[0][0])
    # The block of 29.27 gentle slots has 2.73 slots of slack in the valley: starts from
    # 22:00 to 22:45 (4 places); six keys land on at least 3 of them.
    assert set(firsts) <= {"22:00", "22:15", "22:30", "22:45"}
    assert len(set(firsts)) >= 3


# --- properties over random requests (tests.optimizer.test_properties.requests) ------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.sampled_from([0.0, 1.0, 10.0]))
def test_grid_friendly_costs_at_most_asap_plus_its_budget(
    req: dict[str, Any], tolerance: float
) -> None:
    gf, asap = _both(req, cost_tolerance_pct=tolerance)
    power = [s["ev_kw"] for s in gf["slots"]]
    budget = tie_break_budget(build(parse(_with(req, cost_tolerance_pct=tolerance))), power)
    allowed = abs(asap["summary"]["cost"]) * tolerance / 100 + budget + 1e-6
    assert gf["summary"]["cost"] <= asap["summary"]["cost"] + allowed
    assert gf["summary"]["shortfall_kwh"] <= asap["summary"]["shortfall_kwh"] + 1e-3
    assert gf["status"] == asap["status"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.sampled_from([0.0, 1.0, 10.0]))
def test_on_the_grid_alone_the_peak_is_never_above_asap(
    req: dict[str, Any], tolerance: float
) -> None:
    # No PV, prices above 0 (so nothing beyond the target is ever free): the EV's peak
    # under grid_friendly is at most as_early_as_possible's.
    req = copy.deepcopy(req)
    req["pv_kw"], req["mode"] = [], "smart"
    for interval in req["prices"]["import"]:
        interval["value"] = abs(interval["value"]) + 0.01
    for signal in req.get("signals", []):
        for interval in signal.get("series", []):
            interval["value"] = abs(interval["value"]) + 0.01
    gf, asap = _both(req, cost_tolerance_pct=tolerance)
    assert _peak(gf) <= _peak(asap) + 1e-3
    limit = asap["summary"]["cost"] * (1 + tolerance / 100)
    power = [s["ev_kw"] for s in gf["slots"]]
    budget = tie_break_budget(build(parse(_with(req, cost_tolerance_pct=tolerance))), power)
    assert gf["summary"]["cost"] <= limit + budget + 1e-6


# --- breaks in the preference ---------------------------------------------------------


@pytest.mark.parametrize("tolerance", [1, 10])
def test_a_cost_tolerance_adds_no_start_at_equal_cost_and_peak(tolerance: float) -> None:
    # The 0% plan: one block of 29 slots at 4.1379 kW for 9.21. A tolerance can only
    # lower the peak, which is already the lowest (30 slots would store 30.75 > 30 kWh):
    # the same plan, one start, is what a tolerance should give.
    out = plan(request(preferences={"cost_tolerance_pct": tolerance}))
    assert out["summary"]["cost"] == pytest.approx(9.21)
    assert _peak(out) == pytest.approx(GF_29, abs=1e-4)
    assert _starts(out) == 1


def test_a_cost_tolerance_is_a_share_of_the_owners_cost() -> None:
    # 1.00 CNY/kWh 18:00-22:00, 0.30 22:00-00:00, 0.40 00:00-07:30; 30 kWh, 11 kW.
    # as_early_as_possible: 8 valley slots x 11 kW x 0.25 h = 22 kWh x 0.30 = 6.60, the
    # other 8 kWh x 0.40 = 3.20: 9.80. Flat at 4.1379 kW over 29 slots: 8.2759 kWh x 0.30
    # + 21.7241 x 0.40 = 2.4828 + 8.6897 = 11.1724, 14.0% more. The peak weight allows
    # 10% x 30 kWh x the mean price 0.5630 = 1.69 over the 6.9 kW span, so it was chosen;
    # at the cheapest plugged-in price, 10% x 30 x 0.30 = 0.90 <= 0.98.
    # A 10% tolerance should cost the owner at most 9.80 x 1.10 = 10.78.
    prices = [iv("18:00", "22:00", 1.0), iv("22:00", "00:00", 0.30), iv("00:00", "07:30", 0.40, 1)]
    gf, asap = _both(request(prices={"import": prices}), cost_tolerance_pct=10)
    assert asap["summary"]["cost"] == pytest.approx(9.80)
    assert gf["summary"]["cost"] <= 9.80 * 1.10 + 1e-6


def _noon_with_free_pv(price_now: float) -> dict[str, Any]:
    # 12:00-14:00 in 1-h slots; battery 50 kWh at 50%, target 40% (met). Slot 0: PV 7.86,
    # base 1.73 -> 6.13 kW surplus that cannot be exported (limit 0): worth nothing.
    return {
        "version": 1,
        "start": at("12:00"),
        "slot_minutes": 60,
        "horizon_hours": 2,
        "vehicle": {
            "battery_kwh": 50,
            "soc_pct": 50,
            "target_soc_pct": 40,
            "charge_efficiency": 1.0,
        },
        "charger": {"min_power_kw": 1.4, "max_power_kw": 7.4},
        "site": {"export_limit_kw": 0.0},
        "prices": {"import": [iv("12:00", "13:00", price_now), iv("13:00", "14:00", 0.5)]},
        "pv_kw": [iv("12:00", "13:00", 7.86)],
        "base_load_kw": [iv("12:00", "14:00", 1.73)],
    }


def test_free_pv_beyond_the_target_is_taken_without_the_grid_at_a_price() -> None:
    # At 0.1 CNY/kWh grid energy beyond the target is never bought: the car takes the
    # 6.13 kW of surplus and imports nothing for itself.
    gf, asap = _both(_noon_with_free_pv(0.1))
    for out in (gf, asap):
        assert out["slots"][0]["ev_kw"] == pytest.approx(6.13)
        assert out["slots"][0]["grid_kw"] == pytest.approx(0.0)


@pytest.mark.xfail(
    strict=True,
    reason="grid_friendly puts no weight on kWh charged in slots with a PV surplus, so at "
    "an import price of 0 it tops the free PV up from the grid beyond the target "
    "(7.4 kW, 1.27 kW imported); as_early_as_possible's early weight stops it",
)
def test_beyond_the_target_grid_friendly_takes_no_grid_energy_at_a_zero_price() -> None:
    # plan-v1: beyond the target only energy that would otherwise be worth nothing (PV
    # that would be curtailed). Expected: 6.13 kW, grid 0, as as_early_as_possible does.
    gf, asap = _both(_noon_with_free_pv(0.0))
    assert asap["slots"][0]["ev_kw"] == pytest.approx(6.13)
    assert gf["slots"][0]["ev_kw"] == pytest.approx(6.13)
    assert gf["slots"][0]["grid_kw"] == pytest.approx(0.0)


def test_grid_friendly_buys_nothing_beyond_the_target() -> None:
    # 6 kWh wanted (20 kWh battery, 30% -> 60%), 23:00 -> 01:00, charger 4.1-11 kW, 15-min
    # slots: 0.01 CNY/kWh to 00:30, 0.8 after (the price level). At the gentle 4.1 kW a
    # slot stores 1.025 kWh: 6 slots store 6.15 (0.15 kWh beyond the target, paid for);
    # 5 slots at 4.8 kW store exactly 6.0. The 0.15 kWh cost 0.0015; the 0.7 kW of peak
    # saved weigh 0.7 x 5e-3 x 0.8 = 0.0028. plan-v1 smart mode never pays for energy
    # beyond the target: 6.0 kWh, 0.06 CNY, as as_early_as_possible plans.
    req = request(
        start=at("23:00"),
        horizon_hours=2,
        vehicle={"battery_kwh": 20, "soc_pct": 30, "target_soc_pct": 60},
        prices={"import": [iv("23:00", "00:30", 0.01), iv("00:30", "01:00", 0.8, 1)]},
    )
    del req["vehicle"]["departure"]
    gf, asap = _both(req)
    assert asap["summary"]["energy_kwh"] == pytest.approx(6.0)
    assert gf["summary"]["energy_kwh"] == pytest.approx(6.0)
    assert gf["summary"]["cost"] == pytest.approx(0.06)


def _realised_start(key: str, *, pin: bool = True) -> tuple[str, str]:
    """(the start planned at 22:00, the slot charging really starts in) when the home
    replans at every slot boundary with nothing else changing, as the integration does:
    sending back the first plan's `summary.spread_anchor` (`pin`), or not."""
    now, planned, anchor = DAY + timedelta(hours=22), "", None
    for _ in range(32):
        preferences = {"spread_key": key, **({"spread_anchor": anchor} if anchor else {})}
        req = request(
            start=now.isoformat(),
            vehicle={"battery_kwh": 60, "soc_pct": 40, "target_soc_pct": 50},
            charger={"min_power_kw": 1.4, "max_power_kw": 7.4},
            preferences=preferences,
        )
        out = plan(req)
        planned = planned or charging(out)[0][0]
        if pin and anchor is None:
            anchor = out["summary"]["spread_anchor"]
        if out["slots"][0]["ev_kw"] > 0:
            return planned, out["slots"][0]["start"][11:16]
        now += timedelta(minutes=15)
    return planned, "never"


def test_a_planned_start_survives_replanning_every_slot() -> None:
    # 6 kWh (60 kWh at 40% -> 50%), gentle 1.85 kW (25% of 7.4): 3.24 h of an 8-h valley.
    planned, realised = _realised_start("home-2")
    assert planned == "23:00"
    assert realised == planned


def test_without_the_pinned_anchor_a_replanned_start_drifts_to_the_valleys_end() -> None:
    """Why the integration pins it: the anchor placed in what each replan still sees of
    the valley moves later by (1 - u) of the time passed."""
    planned, realised = _realised_start("home-2", pin=False)
    assert (planned, realised) == ("23:00", "02:15")


def _minutes(hhmm: str) -> int:  # after 22:00 of the evening
    hours, minutes = map(int, hhmm.split(":"))
    return ((hours - 22) % 24) * 60 + minutes


def test_pinned_starts_of_a_street_stay_spread_over_the_valley() -> None:
    """Eight homes replanning every slot: with the pinned anchor each starts near where
    its first plan put it (within a slot)
    and the street's starts stay spread over 22:30-02:30; without it they all drift
    into the valley's last hours (01:15-02:30)."""
    pinned = [_realised_start(f"home-{k}") for k in range(1, 9)]
    for planned, realised in pinned:
        assert abs(_minutes(realised) - _minutes(planned)) <= 15, (planned, realised)
    starts = sorted(_minutes(realised) for _, realised in pinned)
    assert starts[-1] - starts[0] >= 240
    drifted = [_realised_start(f"home-{k}", pin=False)[1] for k in range(1, 9)]
    assert min(_minutes(r) for r in drifted) >= _minutes("01:15")


def test_the_anchor_is_returned_only_where_a_model_placed_the_charging() -> None:
    at_ten = (DAY + timedelta(hours=22)).isoformat()
    gf = plan(request(start=at_ten))["summary"]
    assert datetime.fromisoformat(gf["spread_anchor"]) > DAY + timedelta(hours=22)
    asap = request(start=at_ten, preferences={"profile": "as_early_as_possible"})
    assert plan(asap)["summary"]["spread_anchor"] is None
    assert plan(request(start=at_ten, mode="fast"))["summary"]["spread_anchor"] is None
    pinned = request(start=at_ten, preferences={"spread_anchor": "2026-11-30T03:00:00+08:00"})
    assert plan(pinned)["summary"]["spread_anchor"] == "2026-11-30T03:00:00+08:00"


def test_a_pinned_anchor_must_be_an_instant_with_an_offset() -> None:
    for value, rule in [
        ("03:00", "must be an ISO 8601 time"),
        ("2026-06-02T03:00:00", "must carry a UTC offset (e.g. +08:00)"),
        (3, "must be an ISO 8601 time string"),
    ]:
        with pytest.raises(PlanError, match=re.escape(f"preferences.spread_anchor: {rule}")):
            plan(request(preferences={"spread_anchor": value}))


# --- HiGHS ----------------------------------------------------------------------------

NEIGHBOUR = r"""
import json, sys
from optimizer import plan
from tests.optimizer.helpers import neighbour_solve, request

order, threads = sys.argv[1], int(sys.argv[2])
out = []
for step in order:
    if step == "n":
        out.append(neighbour_solve(threads)["model"])
    else:
        out.append(plan(request())["summary"]["solver"])
print(json.dumps(out))
"""


def _in_fresh_process(order: str, threads: int) -> list[str]:
    result: list[str] = in_fresh_process(NEIGHBOUR, order, str(threads))
    return result


@pytest.mark.parametrize("threads", [1, 4])
def test_a_neighbour_with_a_thread_count_before_evflex(threads: int) -> None:
    # The neighbour starts HiGHS's scheduler with its count; EVFlex's default-option
    # instance accepts it, and the neighbour still solves after EVFlex.
    assert _in_fresh_process("nppn", threads) == ["Optimal", "highs", "highs", "Optimal"]


@pytest.mark.xfail(
    strict=True,
    reason="EVFlex's first plan starts HiGHS's process-wide scheduler at the default "
    "thread count and never releases it, so a later neighbour asking for 1 or 4 "
    "threads fails (run() error, model status 'Not Set')",
)
@pytest.mark.parametrize("threads", [1, 4])
def test_a_neighbour_with_a_thread_count_after_evflex(threads: int) -> None:
    assert _in_fresh_process("pnp", threads) == ["highs", "Optimal", "highs"]


def test_two_plans_in_two_threads_at_once() -> None:
    results: list[dict[str, Any]] = []
    gate = threading.Barrier(2)

    def one() -> None:
        gate.wait()
        results.append(plan(request())["summary"])

    workers = [threading.Thread(target=one) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert [(s["solver"], s["optimality"], s["cost"]) for s in results] == [
        ("highs", "optimal", 9.21)
    ] * 2


def test_a_neighbours_highs_in_another_thread_while_evflex_plans() -> None:
    import highspy
    import numpy as np

    statuses: list[str] = []
    stop = threading.Event()

    def neighbour() -> None:
        while not stop.is_set() and len(statuses) < 200:
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.addVars(2, np.array([0.0, 0.0]), np.array([1.0, 1.0]))
            h.changeColsCost(2, np.array([0, 1], dtype=np.int32), np.array([1.0, 2.0]))
            h.addRow(1.0, highspy.kHighsInf, 2, np.array([0, 1], dtype=np.int32), np.ones(2))
            h.run()
            statuses.append(h.modelStatusToString(h.getModelStatus()))

    other = threading.Thread(target=neighbour)
    other.start()
    try:
        summaries = [plan(request())["summary"] for _ in range(3)]
    finally:
        stop.set()
        other.join()
    assert {(s["solver"], s["optimality"]) for s in summaries} == {("highs", "optimal")}
    assert statuses
    assert set(statuses) == {"Optimal"}


@pytest.mark.parametrize("profile", ["grid_friendly", "as_early_as_possible"])
def test_a_tiny_time_limit_is_never_called_optimal(profile: str) -> None:
    out = plan(request(solver_time_limit_s=0.001, preferences={"profile": profile}))
    summary = out["summary"]
    assert summary["optimality"] in ("feasible", "fallback")
    if summary["optimality"] == "fallback":
        assert summary["solver"] == "fallback"
        assert summary["solver_error"] == "HiGHS: Time limit reached"  # HiGHS's words
    else:
        assert summary["solver"] == "highs"
        assert summary["solver_error"] is None


@pytest.mark.parametrize(
    "changes",
    [{"mode": "solar_only"}, {"charger": {"min_power_kw": 0.0}}],
    ids=["solar_only", "no charger minimum"],
)
def test_a_long_running_thread_keeps_planning_with_highs(changes: dict[str, Any]) -> None:
    """A linear programme (no binaries) after a thread's plans have solved for longer than
    one plan's time limit: HiGHS checks `time_limit` against an instance's total run
    time, so an instance reused per thread failed it ('Time limit reached' in a few ms)."""
    from optimizer import model

    out: dict[str, Any] = {}

    def worker() -> None:
        solved = 0.0
        for _ in range(60):
            plan(request(solver_time_limit_s=0.3))
            solved += model.last_highs().getRunTime()
            if solved > 0.3:
                break
        out["solved"] = solved
        out["summary"] = plan(request(**changes, solver_time_limit_s=0.3))["summary"]

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert out["solved"] > 0.3  # the thread has solved for longer than one plan's limit
    assert out["summary"]["solver"] == "highs", out["summary"]["solver_error"]


# --- the integration's option -------------------------------------------------------


def test_both_profiles_are_translated_in_english_and_chinese() -> None:
    from custom_components.evflex.const import CONF_PREFERENCE, PREFERENCES

    assert PREFERENCES[0] == "grid_friendly"  # the default
    for language in ("en", "zh-Hans"):
        path = ROOT / "custom_components/evflex/translations" / f"{language}.json"
        text = json.loads(path.read_text(encoding="utf-8"))
        options = text["selector"]["preference"]["options"]
        assert set(options) == set(PREFERENCES)
        assert all(isinstance(v, str) and v.strip() for v in options.values())
        blob = json.dumps(text, ensure_ascii=False)
        assert blob.count(f'"{CONF_PREFERENCE}"') >= 4  # label + description, two steps


@pytest.mark.parametrize("profile", ["grid_friendly", "as_early_as_possible"])
def test_the_integrations_request_carries_the_option_and_plans(profile: str) -> None:
    # The integration's own request builder with its option and the entry id (a
    # 26-character ULID) as the spread key: accepted, and the profile decides the plan
    # (3-phase 230 V, 6-16 A: 4.14-11.04 kW; 30 kWh needed in the 22:00-06:00 valley).
    from custom_components.evflex.charger.base import ChargerLimits
    from custom_components.evflex.planner import PlanInputs, build_request
    from custom_components.evflex.tariff import Prices

    tou = request()["prices"]["import"]

    def prices(start: datetime, end: datetime) -> Prices:
        return Prices(tou, [], "CNY", 0.617, 0.0, "peak", None)

    inputs = PlanInputs(
        now=DAY + timedelta(hours=18),
        timezone=DAY.tzinfo or UTC,
        soc=30.0,
        target_soc=80.0,
        min_soc=0.0,
        departure=DAY + timedelta(days=1, hours=7, minutes=30),
        battery_kwh=60.0,
        efficiency=1.0,
        limits=ChargerLimits(phases=3, voltage=230.0, min_current=6.0, max_current=16.0),
        prices=prices,
        pv=[],
        base=[],
        import_limit=None,
        export_limit=None,
        mode="smart",
        signals=[],
        preferences={"profile": profile, "spread_key": "01JDX3ZK6Q8V4N2M7B5C9T0R1S"},
    )
    built = build_request(inputs).request
    assert built["preferences"]["profile"] == profile
    out = plan(built)
    assert out["summary"]["solver"] == "highs"
    assert out["summary"]["cost"] == pytest.approx(9.21)  # 30 x 0.307 either way
    if profile == "grid_friendly":
        # gentle 4.14 kW: floor(30 / 1.035) = 28 slots at 30 / 7 = 4.2857 kW
        assert _peak(out) == pytest.approx(30 / 7, abs=1e-4)
    else:
        assert _peak(out) == pytest.approx(11.04, abs=1e-4)
