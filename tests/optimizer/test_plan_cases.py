"""Hand-worked plans: each expected power, cost and SoC below is worked out in the comments."""

from __future__ import annotations

from typing import Any

import pytest

from optimizer import plan
from tests.optimizer.helpers import EARLY, at, charging, iv, request, run


def test_valley_charging_under_tou() -> None:
    # 30 kWh (60 kWh x 50%) at 100% efficiency. The valley (22:00-06:00, 0.307) holds it:
    # 10 slots x 11 kW x 0.25 h = 27.5 kWh, then 2.5 kWh = 10 kW in the 00:30 slot.
    # Earliest among equal-cost plans (as_early_as_possible). Cost 30 x 0.307 = 9.21.
    out = plan(request(preferences=EARLY))
    assert out["status"] == "ok"
    assert charging(out) == [*run("22:00", 10, 11.0), ("00:30", 10.0)]
    summary = out["summary"]
    assert summary["cost"] == pytest.approx(9.21, abs=1e-6)
    assert summary["energy_kwh"] == pytest.approx(30.0)
    assert summary["soc_at_departure_pct"] == pytest.approx(80.0)
    assert summary["shortfall_kwh"] == 0.0
    assert summary["solver"] == "highs"
    # The charger's power spread the plan over 11 slots where the first would do.
    assert summary["binding"] == ["charger.max_power_kw"]
    assert out["slots"][0]["start"] == at("18:00")
    assert len(out["slots"]) == 54  # 18:00 -> 07:30 in 15-min slots
    assert out["slots"][-1]["soc_pct"] == pytest.approx(80.0)


def test_feeder_cap_pushes_charging_past_midnight() -> None:
    # The feeder allows 3 kW of import 22:00-00:00; the house draws 1 kW, which leaves
    # 2 kW, below the charger's 4.1 kW minimum: no charging until 00:00, then as above.
    # Cost: EV 30 x 0.307 = 9.21; house 1 kW for 4 h peak (2.468), 8 h valley (2.456),
    # 1.5 h peak (0.9255) = 5.8495. Total 15.0595.
    req = request(
        preferences=EARLY,
        base_load_kw=[iv("18:00", "07:30", 1.0)],
        signals=[
            {
                "id": "feeder-7",
                "type": "import_limit",
                "start": at("22:00"),
                "end": at("00:00", 1),
                "limit_kw": 3.0,
            }
        ],
    )
    out = plan(req)
    assert charging(out) == [*run("00:00", 10, 11.0), ("02:30", 10.0)]
    assert out["summary"]["cost"] == pytest.approx(15.0595, abs=1e-6)
    assert "import_limit feeder-7" in out["summary"]["binding"]
    assert all(
        s["grid_kw"] <= 3.0 + 1e-9
        for s in out["slots"]
        if "T22" in s["start"] or "T23" in s["start"]
    )


def _solar_day(preferences: dict[str, Any] = EARLY, **vehicle: Any) -> dict[str, Any]:
    # 06:00-18:00, flat import 0.30, export 0.05; PV 6 kW 09:00-15:00; house 0.5 kW.
    return request(
        preferences=preferences,
        start=at("06:00"),
        vehicle={
            "battery_kwh": 50,
            "soc_pct": 40,
            "target_soc_pct": 60,
            "departure": at("18:00"),
            **vehicle,
        },
        charger={"min_power_kw": 1.4, "max_power_kw": 7.4},
        prices={"import": [iv("06:00", "18:00", 0.30)], "export": [iv("06:00", "18:00", 0.05)]},
        pv_kw=[iv("09:00", "15:00", 6.0)],
        base_load_kw=[iv("06:00", "18:00", 0.5)],
    )


def test_pv_surplus_charging_at_noon_with_low_export_price() -> None:
    # Need 10 kWh. Surplus is 5.5 kW from 09:00: a kWh from it forgoes 0.05, from the
    # grid costs 0.30, so charge at 5.5 kW from 09:00: 7 slots = 9.625 kWh, then
    # 0.375 kWh = 1.5 kW at 10:45 (above the 1.4 kW minimum).
    # Cost: house from the grid 6 h x 0.5 x 0.30 = 0.90; export (33 - 10) x 0.05 = 1.15.
    out = plan(_solar_day())
    assert charging(out) == [*run("09:00", 7, 5.5), ("10:45", 1.5)]
    assert out["summary"]["cost"] == pytest.approx(0.90 - 1.15, abs=1e-6)
    assert all(s["grid_kw"] <= 1e-9 for s in out["slots"] if "09:00" <= s["start"][11:16] < "15:00")
    assert out["status"] == "ok"


def test_pv_beyond_target_only_when_it_would_be_curtailed() -> None:
    # Same day, but nothing may be exported: the surplus is free, so the car takes it
    # all until full (50 kWh): 30 kWh = 21 slots at 5.5 kW (28.875) + 1.125 kWh = 4.5 kW.
    req = _solar_day()
    req["site"] = {"export_limit_kw": 0.0}
    out = plan(req)
    assert charging(out) == [*run("09:00", 21, 5.5), ("14:15", 4.5)]
    assert out["slots"][-1]["soc_pct"] == pytest.approx(100.0)
    assert out["summary"]["cost"] == pytest.approx(0.90, abs=1e-6)
    assert "site.export_limit_kw" in out["summary"]["binding"]


def test_min_soc_is_charged_first_whatever_the_price() -> None:
    # 10% -> 20% of 60 kWh = 6 kWh at once: 11, 11 kW (5.5 kWh), then 0.5 kWh would be
    # 2 kW, below the minimum, so 4.1 kW (1.025 kWh): 6.525 kWh at the peak price.
    # The target needs 42 kWh in all: the other 35.475 kWh in the valley,
    # 12 x 2.75 = 33 kWh + 2.475 kWh (9.9 kW at 01:00).
    # Cost 6.525 x 0.617 + 35.475 x 0.307 = 4.025925 + 10.890825 = 14.91675.
    out = plan(request(preferences=EARLY, vehicle={"soc_pct": 10, "min_soc_pct": 20}))
    assert charging(out) == [
        ("18:00", 11.0),
        ("18:15", 11.0),
        ("18:30", 4.1),
        *run("22:00", 12, 11.0),
        ("01:00", 9.9),
    ]
    assert out["summary"]["cost"] == pytest.approx(14.91675, abs=1e-6)
    assert "vehicle.min_soc_pct" in out["summary"]["binding"]


def test_unreachable_target_charges_as_much_as_possible() -> None:
    # Leaves at 20:00: 8 slots x 2.75 kWh = 22 of the 30 kWh wanted; 8 kWh short.
    out = plan(request(vehicle={"departure": at("20:00")}))
    assert out["status"] == "target_unreachable"
    assert charging(out) == run("18:00", 8, 11.0)
    summary = out["summary"]
    assert summary["shortfall_kwh"] == pytest.approx(8.0)
    assert summary["soc_at_departure_pct"] == pytest.approx(30 + 22 / 60 * 100, abs=1e-3)
    assert summary["cost"] == pytest.approx(22 * 0.617, abs=1e-6)
    assert summary["binding"] == ["charger.max_power_kw", "vehicle.departure"]


def test_solar_only_takes_only_surplus() -> None:
    # 10% -> 90% of 50 kWh = 40 kWh wanted; the surplus holds 6 h x 5.5 kW = 33 kWh.
    # 15:00-16:00 PV is 1.5 kW: a 1.0 kW surplus, below the 1.4 kW minimum, so exported.
    # Cost: house from the grid 06-09 and 16-18 = 5 h x 0.5 x 0.30 = 0.75; export
    # 1.0 kW x 1 h x 0.05 = 0.05. Total 0.70; 7 kWh short.
    req = _solar_day(soc_pct=10, target_soc_pct=90)
    req["mode"] = "solar_only"
    req["pv_kw"] = [iv("09:00", "15:00", 6.0), iv("15:00", "16:00", 1.5)]
    out = plan(req)
    assert charging(out) == run("09:00", 24, 5.5)
    assert out["status"] == "target_unreachable"
    assert out["summary"]["shortfall_kwh"] == pytest.approx(7.0)
    assert out["summary"]["cost"] == pytest.approx(0.70, abs=1e-6)
    assert "mode solar_only" in out["summary"]["binding"]
    assert all(s["grid_kw"] <= 0.5 + 1e-9 for s in out["slots"])


def test_price_signal_replaces_the_import_price_in_its_window() -> None:
    # 0.10 from 02:00 to 04:00: 8 slots x 2.75 = 22 kWh there; 8 kWh in the valley at
    # 0.307, right before it so the car starts once: 01:15 and 01:30 at 11 kW, 2.5 kWh
    # (10 kW) at 01:45. Cost 22 x 0.10 + 8 x 0.307 = 4.656.
    signal = {
        "id": "dr-1",
        "type": "price",
        "start": at("02:00", 1),
        "end": at("04:00", 1),
        "series": [iv("02:00", "04:00", 0.10, 1)],
    }
    out = plan(request(preferences=EARLY, signals=[signal]))
    assert charging(out) == [
        ("01:15", 11.0),
        ("01:30", 11.0),
        ("01:45", 10.0),
        *run("02:00", 8, 11.0),
    ]
    assert out["summary"]["cost"] == pytest.approx(4.656, abs=1e-6)
    assert out["slots"][32]["import_price"] == pytest.approx(0.10)  # 02:00


def test_ev_limit_signal_caps_the_car() -> None:
    # 5 kW in the valley: 1.25 kWh a slot, 24 slots for 30 kWh: 22:00-04:00.
    signal = {
        "id": "agg-1",
        "type": "ev_limit",
        "start": at("22:00"),
        "end": at("06:00", 1),
        "limit_kw": 5.0,
    }
    out = plan(request(preferences=EARLY, signals=[signal]))
    assert charging(out) == run("22:00", 24, 5.0)
    assert out["summary"]["cost"] == pytest.approx(9.21, abs=1e-6)
    assert "ev_limit agg-1" in out["summary"]["binding"]


def test_limit_broken_by_base_load_is_named_and_never_fails() -> None:
    # The house alone draws 4 kW against a 2 kW signal 22:00-23:00: no charging then.
    signal = {
        "id": "x",
        "type": "import_limit",
        "start": at("22:00"),
        "end": at("23:00"),
        "limit_kw": 2.0,
    }
    req = request(preferences=EARLY, base_load_kw=[iv("18:00", "07:30", 4.0)], signals=[signal])
    out = plan(req)
    assert "import_limit x" in out["summary"]["binding"]
    assert charging(out)[0] == ("23:00", 11.0)
    assert out["status"] == "ok"


def test_fast_charges_now_at_full_power() -> None:
    out = plan(request(mode="fast"))
    assert charging(out) == [*run("18:00", 10, 11.0), ("20:30", 10.0)]
    assert out["summary"]["cost"] == pytest.approx(30 * 0.617, abs=1e-6)
    assert out["summary"]["solver"] == "none"


def test_off_never_charges() -> None:
    out = plan(request(mode="off"))
    assert charging(out) == []
    assert out["status"] == "target_unreachable"
    assert out["summary"]["shortfall_kwh"] == pytest.approx(30.0)


def test_efficiency_and_arrival() -> None:
    # 90% efficient: 30 kWh into the battery draws 33.333 kWh: 12 x 2.75 = 33 kWh,
    # then 0.3333 kWh = 1.3333 kW, below the minimum: the plan must use >= 4.1 kW in a
    # slot, so it spreads: the cost is 33.333 x 0.307 = 10.2333 whichever split.
    # The car arrives at 23:00: nothing before.
    out = plan(request(vehicle={"charge_efficiency": 0.9, "arrival": at("23:00")}))
    assert charging(out)[0][0] == "23:00"
    assert out["summary"]["energy_kwh"] == pytest.approx(100 / 3, abs=1e-3)
    assert out["summary"]["cost"] == pytest.approx(100 / 3 * 0.307, abs=1e-4)
    assert all(kw >= 4.1 - 1e-9 for _, kw in charging(out))


def test_no_departure_plans_to_the_end_of_prices() -> None:
    req = request(preferences=EARLY)
    del req["vehicle"]["departure"]
    out = plan(req)
    # Prices run to 06:00 on day 2: 36 h from 18:00, 144 slots; cheapest first night.
    assert len(out["slots"]) == 144
    assert charging(out) == [*run("22:00", 10, 11.0), ("00:30", 10.0)]


def test_already_at_target_charges_nothing() -> None:
    out = plan(request(vehicle={"soc_pct": 85}))
    assert charging(out) == []
    assert out["status"] == "ok"
    assert out["summary"]["soc_at_departure_pct"] == pytest.approx(85.0)
