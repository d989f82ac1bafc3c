"""Feed-in paid above the import price: the site's switch between importing and
exporting, worked out by hand (one hour from 10:00, four 15-minute slots).

Import 0.10, export 0.30 per kWh; the car needs 5 kWh at 100% efficiency from a
1.4-7.4 kW charger, departure 11:00. A real site's PV serves the house, then the
car, and only the rest is exported: it never imports to export at the better price.
"""

from __future__ import annotations

import pytest

from optimizer import plan
from tests.optimizer.helpers import at, iv, request


def _hour(pv_kw: float, house_kw: float) -> dict[str, object]:
    return request(
        start=at("10:00"),
        vehicle={"battery_kwh": 50, "soc_pct": 50, "target_soc_pct": 60, "departure": at("11:00")},
        charger={"min_power_kw": 1.4, "max_power_kw": 7.4},
        prices={"import": [iv("10:00", "11:00", 0.10)], "export": [iv("10:00", "11:00", 0.30)]},
        pv_kw=[iv("10:00", "11:00", pv_kw)],
        base_load_kw=[iv("10:00", "11:00", house_kw)],
    )


def test_house_taking_all_the_pv_exports_nothing() -> None:
    # PV 1 kW under a 2 kW house: no surplus, nothing to export whatever the prices.
    # Every kWh is imported: house 1 kW x 1 h + car 5 kWh = 6 kWh x 0.10 = 0.60.
    out = plan(_hour(pv_kw=1.0, house_kw=2.0))
    assert out["summary"]["cost"] == pytest.approx(0.60, abs=1e-6)
    assert out["summary"]["energy_kwh"] == pytest.approx(5.0, abs=1e-6)
    assert out["summary"]["optimality"] == "optimal"


def test_surplus_above_the_car_never_imports() -> None:
    # PV 10 kW, house 1 kW: a 9 kW surplus, more than the car's 7.4 kW, so every kWh
    # for the car is PV that would have earned 0.30. Without the car the site exports
    # 9 kW x 1 h = 9 kWh; with it 9 - 5 = 4 kWh: cost -4 x 0.30 = -1.20.
    out = plan(_hour(pv_kw=10.0, house_kw=1.0))
    assert out["summary"]["cost"] == pytest.approx(-1.20, abs=1e-6)
    assert all(s["ev_kw"] <= 7.4 + 1e-9 for s in out["slots"])


def test_surplus_below_the_car_is_taken_whole_then_imported() -> None:
    # PV 5 kW, house 1 kW: a 4 kW surplus. In a slot the car's first 4 kW forgo the
    # 0.30 export, the rest is imported at 0.10: a cost concave in the power, so the
    # fewest slots are cheapest. 5 kWh = 20 kW x slot, each slot at most 7.4 kW: two
    # cannot hold it; three at 4 kW or more each cost the same whatever the split,
    # (3 x 4 x 0.30 + (20 - 12) x 0.10) x 0.25 = 1.10 for the car; four slots cost
    # more (7.4 + 7.4 + 3.8 + 1.4: one slot below the surplus forgoes 0.30 on all of
    # it: 1.16). Among the equally cheap, the lowest peak: 20 / 3 = 6.6667 kW each.
    # Site: the idle slot exports 4 x 0.25 x 0.30 = 0.30; the others import
    # 3 x (6.6667 - 4) x 0.25 x 0.10 = 0.20: cost 0.20 - 0.30 = -0.10.
    out = plan(_hour(pv_kw=5.0, house_kw=1.0))
    powers = sorted(s["ev_kw"] for s in out["slots"] if s["ev_kw"] > 0)
    assert powers == pytest.approx([20 / 3] * 3, abs=1e-4)
    assert out["summary"]["cost"] == pytest.approx(-0.10, abs=1e-6)
