"""The browser test's price bound (browser_check.price_check) on hand-worked plans.

Shanghai residential TOU: 0.307 CNY/kWh 22:00-06:00, 0.617 elsewhere, no export payment.
Hourly slots from noon; the house draws 1 kW; the demo's charger 11.04 kW under a 10 kW
import limit, so the timer can buy 9 kWh an hour. The bound: cost <= timer x 1.01.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from browser_check import price_check

DAY, NIGHT = 0.617, 0.307
START = datetime.fromisoformat("2026-12-02T12:00:00+08:00")
DEPART = "2026-12-03T07:00:00+08:00"  # hour 19 after noon


def _price(when: datetime) -> float:
    return NIGHT if when.hour >= 22 or when.hour < 6 else DAY


def _plan(
    charge: dict[int, float], hours: int = 24, pv: dict[int, float] | None = None
) -> list[dict[str, Any]]:
    """Hourly slots from 12:00; `charge`: hour after noon -> ev_kw; `pv`: hour -> pv_kw."""
    slots = []
    for h in range(hours):
        start = START + timedelta(hours=h)
        ev, sun = charge.get(h, 0.0), (pv or {}).get(h, 0.0)
        slots.append(
            {
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "ev_kw": ev,
                "pv_kw": sun,
                "grid_kw": 1.0 + ev - sun,
                "import_price": _price(start),
            }
        )
    return slots


def _passes(slots: list[dict[str, Any]], departure: str = DEPART) -> bool:
    cost, timer, _ = price_check(slots, departure)
    return cost <= timer * 1.01 + 1e-6


def test_a_plan_in_the_valley_costs_what_the_timer_does() -> None:
    # 7.4 kW at 22:00 and 23:00: 14.8 kWh at 0.307 = 4.5436, the timer's too.
    cost, timer, energy = price_check(_plan({10: 7.4, 11: 7.4}), DEPART)
    assert [cost, timer, energy] == pytest.approx([4.5436, 4.5436, 14.8])
    assert _passes(_plan({10: 7.4, 11: 7.4}))


def test_charging_at_once_at_the_day_price_fails() -> None:
    # 18:00 and 19:00: 14.8 x 0.617 = 9.1316 against 4.5436.
    assert not _passes(_plan({6: 7.4, 7: 7.4}))


def test_an_even_spread_over_day_hours_fails() -> None:
    # 14.8 kWh over the 13 hours 18:00-07:00 (8 valley, 5 day): 14.8 / 13 x (8 x 0.307 + 5
    # x 0.617) = 6.308 against 4.5436: the timer carries it in two valley hours.
    slots = _plan(dict.fromkeys(range(6, 19), 14.8 / 13))
    cost, timer, _ = price_check(slots, DEPART)
    assert cost == pytest.approx(14.8 / 13 * 5.541)
    assert timer == pytest.approx(4.5436)
    assert not _passes(slots)


def test_a_kwh_from_the_sun_costs_the_car_nothing() -> None:
    # The 07:30 case: the departure a day away, 4.14 kW under 4.5 kW of sun 12:00-15:00
    # (a 3.5 kW surplus): each hour imports 1 + 4.14 - 4.5 = 0.64 kW for the car, 3 x 0.64
    # x 0.617 = 1.18464 for 12.42 kWh; the timer buys 12.42 kWh at night: 3.81294.
    slots = _plan(dict.fromkeys(range(3), 4.14), hours=44, pv=dict.fromkeys(range(3), 4.5))
    cost, timer, energy = price_check(slots, "2026-12-04T07:00:00+08:00")
    assert [cost, timer, energy] == pytest.approx([1.18464, 12.42 * NIGHT, 12.42])
    assert _passes(slots, "2026-12-04T07:00:00+08:00")


def test_a_car_under_the_sun_while_the_home_still_exports_pays_nothing() -> None:
    # 3 kW into the car under 6 kW of sun: the home still exports 2 kW.
    cost, _, _ = price_check(_plan({1: 3.0}, pv={1: 6.0}), DEPART)
    assert cost == 0.0


def test_without_a_grid_meter_the_slot_s_house_and_sun_count() -> None:
    # No grid_kw (a plan made without a house meter): house_kw and pv_kw on the slot.
    # 4.14 kW, house 1, sun 4.5: 0.64 kW imported, as above; without house_kw, 0 kW.
    slots = _plan({0: 4.14}, pv={0: 4.5})
    slots[0]["grid_kw"] = None
    slots[0]["house_kw"] = 1.0
    assert price_check(slots, DEPART)[0] == pytest.approx(0.64 * DAY)
    del slots[0]["house_kw"]
    assert price_check(slots, DEPART)[0] == 0.0


def test_with_the_departure_minutes_away_the_timer_pays_the_day_price_too() -> None:
    # Planned at 06:00 for 07:00: one day-price hour, 7.4 kWh at 0.617 for both.
    cost, timer, _ = price_check(_plan({18: 7.4})[18:], DEPART)
    assert cost == pytest.approx(timer)
    assert timer == pytest.approx(7.4 * DAY)


def test_a_charge_past_the_departure_is_priced_at_the_top() -> None:
    # 06:00 and 07:00 charged, the departure 07:00: the timer carries 9 kWh at 06:00 and
    # the other 5.8 at the highest price, 0.617: the same as the plan, which passes.
    slots = _plan({18: 7.4, 19: 7.4})[18:]
    cost, timer, _ = price_check(slots, DEPART)
    assert [cost, timer] == pytest.approx([14.8 * DAY, 14.8 * DAY])


def test_a_plan_that_charges_nothing_says_so() -> None:
    with pytest.raises(AssertionError, match="charges nothing"):
        price_check(_plan({}), DEPART)


def test_slots_without_an_end_last_until_the_next_one() -> None:
    # Quarter-hour slots without "end": 7.4 kW for two of them is 3.7 kWh.
    slots = _plan({10: 7.4, 11: 7.4})[10:12]
    for i, slot in enumerate(slots):
        del slot["end"]
        slot["start"] = (START + timedelta(hours=10, minutes=15 * i)).isoformat()
    assert price_check(slots, DEPART)[2] == pytest.approx(3.7)
