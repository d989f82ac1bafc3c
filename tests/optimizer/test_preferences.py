"""The grid-friendly preference, worked out by hand (plan-v1 `preferences`).

The request of tests.optimizer.helpers: 18:00 -> 07:30, 30 kWh wanted at 100%
efficiency, charger 4.1-11 kW, Shanghai TOU (valley 0.307 from 22:00 to 06:00: 32
slots of 15 min, slots 16-47 of the horizon).
"""

from __future__ import annotations

import hashlib

import pytest

from optimizer import PlanError, parse, plan
from optimizer.model import spread_fraction
from optimizer.problem import build
from tests.optimizer.helpers import EARLY, at, charging, iv, request, run


def _fraction(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("preferences.profile", "cheapest", "must be one of grid_friendly, as_early_as_possible"),
        ("preferences.ready_margin_minutes", -1, "must be between 0 and 1440"),
        ("preferences.ready_margin_minutes", "60", "must be a number"),
        ("preferences.spread_key", "", "must be a non-empty string"),
        ("preferences.cost_tolerance_pct", 11, "must be between 0 and 10"),
        ("preferences.colour", "green", "unknown field"),
    ],
)
def test_bad_preferences_are_refused(field: str, value: object, rule: str) -> None:
    name = field.split(".")[1]
    with pytest.raises(PlanError) as caught:
        plan(request(preferences={name: value}))
    assert caught.value.field == field
    assert rule in caught.value.rule


def test_preference_defaults() -> None:
    prefs = parse(request()).preferences
    assert prefs.profile == "grid_friendly"
    assert prefs.ready_margin_minutes == 60
    assert prefs.spread_key is None
    assert prefs.cost_tolerance_pct == 0


@pytest.mark.parametrize(("key", "first"), [("d", "22:00"), ("home-1", "22:45")])
def test_flat_profile_at_equal_cost_in_a_long_valley(key: str, first: str) -> None:
    # Gentle power: max(4.1 minimum, 25% of 11 = 2.75) = 4.1 kW. The lowest peak for
    # 30 kWh: 29 slots x 0.25 h x P = 30 -> P = 4.1379 kW (30 slots would need at least
    # 30 x 1.025 = 30.75 kWh, more than wanted). Cost unchanged: 30 x 0.307 = 9.21.
    # Where: the block of 30 / 1.025 = 29.27 slots at the gentle power is centred on an
    # anchor between its first and last place in the valley:
    #   anchor = 16 + 29.27 / 2 + u x (32 - 29.27) = 30.634 + 2.732 u.
    # "d": u = 0.0964 -> 30.897: the 29 slots centred nearest start at slot 16 (22:00).
    # "home-1": u = 0.9809 -> 33.314 -> slot 19 (22:45), the last ending at 06:00.
    out = plan(request(preferences={"spread_key": key}))
    assert spread_fraction(build(parse(request(preferences={"spread_key": key})))) == (
        _fraction(key)
    )
    assert charging(out) == run(first, 29, 4.1379)
    summary = out["summary"]
    assert summary["cost"] == pytest.approx(9.21, abs=1e-6)
    assert summary["soc_at_departure_pct"] == pytest.approx(80.0)
    assert summary["solver"] == "highs"
    assert summary["optimality"] == "optimal"
    # Ready by 06:30 (departure 07:30 - 60 min): full at the valley's end.
    by_slot = {s["start"][11:16]: s["soc_pct"] for s in out["slots"]}
    assert by_slot["05:45"] == pytest.approx(80.0)


def test_as_early_as_possible_is_todays_plan() -> None:
    # 10 slots x 11 kW x 0.25 h = 27.5 kWh from 22:00, then 2.5 kWh = 10 kW at 00:30.
    out = plan(request(preferences={**EARLY, "spread_key": "d"}))
    assert charging(out) == [*run("22:00", 10, 11.0), ("00:30", 10.0)]
    assert out["summary"]["cost"] == pytest.approx(9.21, abs=1e-6)


def test_ready_margin_is_kept_when_the_valley_allows() -> None:
    # Valley 0.307 until 07:30 (the departure) instead of 06:00: 38 slots. With a
    # 60-minute margin the plan should be full by 06:30 (slot 50): the 29-slot block
    # fits in 22:00-06:30 (34 slots). Cost 9.21 either way.
    prices = [iv("00:00", "06:00", 0.307), iv("06:00", "22:00", 0.617)]
    prices += [iv("22:00", "07:30", 0.307), iv("07:30", "22:00", 0.617, 1)]
    out = plan(request(prices={"import": prices}, preferences={"spread_key": "home-1"}))
    assert out["summary"]["cost"] == pytest.approx(9.21, abs=1e-6)
    last = max(s["start"] for s in out["slots"] if s["ev_kw"] > 0)
    assert last < at("06:30", 1)
    # Without the margin the anchor moves to 16 + 14.63 + 0.98 x (38 - 29.27) = 39.2: the
    # block starts at slot 25 (00:15) and its last slot is 07:15, right before departure.
    late = plan(
        request(
            prices={"import": prices},
            preferences={"spread_key": "home-1", "ready_margin_minutes": 0},
        )
    )
    assert max(s["start"] for s in late["slots"] if s["ev_kw"] > 0) == at("07:15", 1)
    assert max(kw for _, kw in charging(out)) == pytest.approx(4.1379, abs=1e-4)


def test_price_signal_wins_over_the_preference() -> None:
    # 0.10 from 02:00 to 04:00: all 8 slots at the full 11 kW (22 kWh at 0.10) whatever
    # the peak; the other 8 kWh in the valley. Cost 22 x 0.10 + 8 x 0.307 = 4.656.
    signal = {
        "id": "dr-1",
        "type": "price",
        "start": at("02:00", 1),
        "end": at("04:00", 1),
        "series": [iv("02:00", "04:00", 0.10, 1)],
    }
    out = plan(request(signals=[signal]))
    assert out["summary"]["cost"] == pytest.approx(4.656, abs=1e-6)
    cheap = [s["ev_kw"] for s in out["slots"] if at("02:00", 1) <= s["start"] < at("04:00", 1)]
    assert cheap == [11.0] * 8


def test_pv_wins_over_the_preference() -> None:
    # 06:00-18:00 at a flat 0.30 import, 0.05 export; PV 6 kW 09:00-15:00, house 0.5 kW:
    # 10 kWh wanted, all of it from the 5.5 kW surplus (0.05 forgone, not 0.30 bought).
    # Cost as today: house 6 h x 0.5 x 0.30 = 0.90, minus export (33 - 10) x 0.05 = 1.15.
    # PV surplus taken does not load the grid, so the peak term does not spread it: the
    # car takes the whole 5.5 kW surplus in the fewest slots: 10 / (5.5 x 0.25) = 7.27,
    # so 7 slots at 5.5 kW and one at 0.375 / 0.25 = 1.5 kW (above the 1.4 kW minimum).
    out = plan(
        request(
            start=at("06:00"),
            vehicle={
                "battery_kwh": 50,
                "soc_pct": 40,
                "target_soc_pct": 60,
                "departure": at("18:00"),
            },
            charger={"min_power_kw": 1.4, "max_power_kw": 7.4},
            prices={"import": [iv("06:00", "18:00", 0.30)], "export": [iv("06:00", "18:00", 0.05)]},
            pv_kw=[iv("09:00", "15:00", 6.0)],
            base_load_kw=[iv("06:00", "18:00", 0.5)],
        )
    )
    assert out["summary"]["cost"] == pytest.approx(0.90 - 1.15, abs=1e-6)
    assert all("09:00" <= hhmm < "15:00" for hhmm, _ in charging(out))
    powers = sorted(kw for _, kw in charging(out))
    assert powers == pytest.approx([1.5] + [5.5] * 7, abs=1e-4)
    assert out["summary"]["energy_kwh"] == pytest.approx(10.0, abs=1e-3)
