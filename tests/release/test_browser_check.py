"""The browser test's price bound (browser_check._price_check) on hand-worked plans."""

from __future__ import annotations

from typing import Any

import pytest
from browser_check import _price_check

DAY, NIGHT = 0.617, 0.307


def _slot(hour: int, ev: float, grid: float | None, price: float) -> dict[str, Any]:
    return {
        "start": f"2026-12-02T{hour:02d}:00:00+08:00",
        "ev_kw": ev,
        "grid_kw": grid,
        "import_price": price,
    }


def test_a_kwh_from_the_sun_costs_the_car_nothing() -> None:
    # Noon: the car draws its 4 kW minimum, the house 1 kW, PV 4 kW: the home imports 1
    # kW, all of it for the car (without it the home would export 3). Night: 4 kW from the
    # grid. 8 kWh charged for 1 * 0.617 + 4 * 0.307 = 1.845: 0.230625 per kWh.
    slots = [_slot(12, 4.0, 1.0, DAY), _slot(13, 0.0, -3.0, DAY), _slot(23, 4.0, 5.0, NIGHT)]
    mean, cheapest, low, high = _price_check(slots, "2026-12-03T07:30:00+08:00")
    assert mean == pytest.approx(0.230625)
    # The two cheapest slots before the departure: 0.307 and 0.617.
    assert cheapest == pytest.approx(0.462)
    assert (low, high) == (NIGHT, DAY)


def test_charging_at_once_at_the_day_price_fails_the_bound() -> None:
    slots = [_slot(8, 11.0, 12.0, DAY), _slot(9, 11.0, 12.0, DAY)]
    slots += [_slot(h, 0.0, 1.0, NIGHT) for h in (22, 23)]
    mean, cheapest, low, high = _price_check(slots, "2026-12-03T07:30:00+08:00")
    assert [mean, cheapest] == pytest.approx([DAY, NIGHT])
    assert mean > cheapest + 0.25 * (high - low)


def test_a_slot_after_the_departure_is_not_within_reach() -> None:
    # Only the 06:00 day-price slot is before the departure: the bound is the day price.
    slots = [_slot(6, 4.0, 5.0, DAY), _slot(23, 0.0, 1.0, NIGHT)]
    mean, cheapest, _, _ = _price_check(slots, "2026-12-02T07:30:00+08:00")
    assert [mean, cheapest] == pytest.approx([DAY, DAY])


def test_without_a_house_meter_the_car_pays_for_all_it_draws() -> None:
    mean, _, _, _ = _price_check([_slot(23, 4.0, None, NIGHT)], "2026-12-03T07:30:00+08:00")
    assert mean == pytest.approx(NIGHT)
