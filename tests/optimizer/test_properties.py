"""Invariants over random requests (hypothesis): limits, departure, target, cost."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer import plan
from optimizer.fallback import fallback_power
from optimizer.model import tie_break_budget
from optimizer.problem import build
from optimizer.request import parse
from optimizer.response import cost
from tests.optimizer.helpers import DAY, draw_signals, hourly

TOL = 2e-3  # kW / kWh: responses are rounded to 4 decimals


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    hours = draw(st.integers(2, 30))
    start = DAY + timedelta(hours=draw(st.integers(0, 23)))
    price = st.floats(-0.1, 0.8, allow_nan=False).map(lambda x: round(x, 3))
    power = st.floats(0, 8, allow_nan=False).map(lambda x: round(x, 2))
    max_kw = draw(st.sampled_from([3.7, 7.4, 11.0, 22.0]))
    min_kw = min(max_kw, draw(st.sampled_from([0.0, 1.4, 4.1])))
    battery = draw(st.sampled_from([20.0, 40.0, 77.0]))
    soc = draw(st.integers(0, 100))
    target = draw(st.integers(0, 100))
    req: dict[str, Any] = {
        "version": 1,
        "start": start.isoformat(),
        "slot_minutes": draw(st.sampled_from([15, 30, 60])),
        "horizon_hours": hours,
        "vehicle": {
            "battery_kwh": battery,
            "soc_pct": soc,
            "target_soc_pct": target,
            "min_soc_pct": min(target, draw(st.integers(0, 40))),
            "charge_efficiency": draw(st.sampled_from([0.85, 0.92, 1.0])),
        },
        "charger": {"min_power_kw": min_kw, "max_power_kw": max_kw},
        "prices": {
            "import": hourly(draw(st.lists(price, min_size=hours, max_size=hours)), start),
            "export": hourly(draw(st.lists(price, min_size=hours, max_size=hours)), start),
        },
        "pv_kw": hourly(draw(st.lists(power, min_size=hours, max_size=hours)), start),
        "base_load_kw": hourly(
            draw(st.lists(power.map(lambda x: x / 2), min_size=hours, max_size=hours)), start
        ),
        "mode": draw(st.sampled_from(["smart", "smart", "solar_only"])),
    }
    if draw(st.booleans()):
        req["vehicle"]["departure"] = (
            start + timedelta(hours=draw(st.integers(1, hours)))
        ).isoformat()
    if draw(st.booleans()):
        req["vehicle"]["arrival"] = (
            start + timedelta(minutes=draw(st.sampled_from([0, 30])))
        ).isoformat()
    site: dict[str, float] = {}
    if draw(st.booleans()):
        site["import_limit_kw"] = draw(st.sampled_from([3.0, 6.0, 10.0, 16.0]))
    if draw(st.booleans()):
        site["export_limit_kw"] = draw(st.sampled_from([0.0, 2.0, 5.0]))
    req["site"] = site
    signals = draw_signals(draw, start, hours, 3, price, st.sampled_from([0.0, 2.0, 5.0]))
    req["signals"] = signals
    return req


def _limits(req: dict[str, Any], t0: datetime, t1: datetime) -> tuple[float, float]:
    """(site import cap, EV cap) over [t0, t1), from the raw request."""
    imp = req["site"].get("import_limit_kw", float("inf"))
    ev = req["charger"]["max_power_kw"]
    for sig in req["signals"]:
        s, e = datetime.fromisoformat(sig["start"]), datetime.fromisoformat(sig["end"])
        if s < t1 and e > t0:
            if sig["type"] == "import_limit":
                imp = min(imp, sig["limit_kw"])
            elif sig["type"] == "ev_limit":
                ev = min(ev, sig["limit_kw"])
    return imp, ev


def _hour_value(series: list[dict[str, Any]], t: datetime) -> float:
    for item in series:
        if datetime.fromisoformat(item["start"]) <= t < datetime.fromisoformat(item["end"]):
            return float(item["value"])
    return 0.0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_plans_respect_every_limit_and_meet_reachable_targets(req: dict[str, Any]) -> None:
    out = plan(req)
    veh, charger = req["vehicle"], req["charger"]
    departure = datetime.fromisoformat(veh["departure"]) if "departure" in veh else None
    arrival = datetime.fromisoformat(veh["arrival"]) if "arrival" in veh else None
    hours = req["slot_minutes"] / 60
    reachable = 0.0  # kWh the battery could take before departure under every limit
    soc_prev = veh["soc_pct"]
    for slot in out["slots"]:
        t0, t1 = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        ev, grid = slot["ev_kw"], slot["grid_kw"]
        imp_cap, ev_cap = _limits(req, t0, t1)
        base = _hour_value(req["base_load_kw"], t0)
        pv = _hour_value(req["pv_kw"], t0)
        # The charger runs at 0 or between its minimum and every cap (in the slot that
        # fills the battery the car stops early, so the average may be lower).
        fills = slot["soc_pct"] >= 100 - 1e-6 > soc_prev
        assert ev == 0 or charger["min_power_kw"] - TOL <= ev or fills
        assert ev <= ev_cap + TOL
        # No charging outside the plug-in window.
        if (departure and t1 > departure) or (arrival and t0 < arrival):
            assert ev == 0
        # The site stays within its import limit, or the car adds nothing where the
        # house alone breaks it; and within its export limit.
        if base - pv > imp_cap:
            assert ev == 0
        else:
            assert grid <= imp_cap + TOL
        assert -grid <= req["site"].get("export_limit_kw", float("inf")) + TOL
        if req["mode"] == "solar_only" and ev > 0 and soc_prev >= veh["min_soc_pct"] - 1e-6:
            assert grid <= max(base - pv, 0) + TOL  # only surplus PV, above the minimum
        assert 0 <= slot["soc_pct"] <= 100 + 1e-6
        assert slot["soc_pct"] >= soc_prev - 1e-9
        soc_prev = slot["soc_pct"]
        room = min(ev_cap, imp_cap - base + pv)
        plugged = (departure is None or t1 <= departure) and (arrival is None or t0 >= arrival)
        if plugged and room >= max(charger["min_power_kw"], 1e-9):
            reachable += room * hours * veh["charge_efficiency"]
    needed = (veh["target_soc_pct"] - veh["soc_pct"]) / 100 * veh["battery_kwh"]
    if req["mode"] == "smart" and reachable >= needed + 0.01:
        assert out["status"] == "ok", out["summary"]
    if out["status"] == "ok":
        assert out["summary"]["soc_at_departure_pct"] >= veh["target_soc_pct"] - 1e-3

    # The cost is what the slots say, and never worse than the fallback's when both
    # meet the target (the fallback is feasible for the MILP), but for what the
    # tie-breaks (fewer starts, fuller slots, earlier) may trade.
    recomputed = sum(
        hours
        * (s["import_price"] * max(s["grid_kw"], 0) - s["export_price"] * max(-s["grid_kw"], 0))
        for s in out["slots"]
    )
    assert abs(recomputed - out["summary"]["cost"]) <= 1e-3 * (1 + abs(recomputed))
    problem = build(parse(req))
    fallback = fallback_power(problem)
    fallback_stored = sum(fallback) * hours * veh["charge_efficiency"]
    if out["status"] == "ok" and fallback_stored >= needed - 1e-6 and req["mode"] == "smart":
        power = [s["ev_kw"] for s in out["slots"]]
        budget = tie_break_budget(problem, power) + 1e-4 * (1 + abs(out["summary"]["cost"]))
        assert out["summary"]["cost"] <= cost(problem, fallback) + budget
