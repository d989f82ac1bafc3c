"""Price and PV forecasts as Home Assistant users have them, turned into plans."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from unittest.mock import AsyncMock, Mock

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    mock_integration,
    mock_platform,
)

from custom_components.evflex.const import DOMAIN
from custom_components.evflex.inputs import cover, price_forecast, pv_forecast

from .conftest import advance, make_entry

TZ = "Asia/Shanghai"


def _hours(
    start: datetime, values: list[float], key_start: str, key_value: str, **extra: Any
) -> list[dict[str, Any]]:
    return [
        {key_start: (start + timedelta(hours=i)).isoformat(), key_value: v, **extra}
        for i, v in enumerate(values)
    ]


async def _plan(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "get_plan", {"config_entry_id": entry.entry_id}, blocking=True, return_response=True
    )
    assert response is not None
    return response


@pytest.mark.parametrize(
    ("attribute", "key_start", "key_value", "unit", "scale"),
    [
        ("raw_today", "start", "value", "EUR/kWh", 1.0),  # Nord Pool
        ("prices", "time", "price", "EUR/MWh", 1000.0),  # ENTSO-E, per MWh
        ("today", "startsAt", "total", "EUR/kWh", 1.0),  # Tibber style
        ("rates", "start", "value_inc_vat", "GBP/kWh", 1.0),  # Octopus Energy
    ],
)
async def test_dynamic_price_sensor_moves_charging_to_the_cheapest_hours(
    hass: HomeAssistant,
    shanghai: None,
    evening: datetime,
    attribute: str,
    key_start: str,
    key_value: str,
    unit: str,
    scale: float,
) -> None:
    start = dt_util.now().replace(minute=0)
    # 18:00 .. 07:00: the cheapest hours are 03:00 (0.07) and 02:00 (0.08).
    values = [0.30, 0.28, 0.25, 0.22, 0.20, 0.18, 0.16, 0.15, 0.08, 0.07, 0.14, 0.19, 0.26, 0.30]
    forecast = _hours(start, [v * scale for v in values], key_start, key_value)
    hass.states.async_set(
        "sensor.price", str(values[0] * scale), {"unit_of_measurement": unit, attribute: forecast}
    )
    entry = make_entry(tariff_kind="sensor", price_entity="sensor.price", arrival_soc=60)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    plan = (await _plan(hass, entry))["plan"]
    # 60% -> 80% of 60 kWh = 12 kWh: the 03:00 hour holds 11.04 kWh; the other 0.96 kWh
    # in the 0.08 hour, but a slot runs at least 4.14 kW (1.035 kWh): 02:45 at 4.14 kW,
    # then 10.965 kWh at 0.07. Cost 1.035 x 0.08 + 10.965 x 0.07 = 0.85035.
    charging = [(s["start"][11:16], s["ev_kw"]) for s in plan["slots"] if s["ev_kw"] > 0]
    assert charging == [
        ("02:45", 4.14),
        ("03:00", 11.04),
        ("03:15", 11.04),
        ("03:30", 11.04),
        ("03:45", 10.74),
    ]
    assert plan["summary"]["cost"] == pytest.approx(0.85035, abs=1e-6)
    assert hass.states.get("sensor.garage_import_price").state == "0.3"
    assert (
        hass.states.get("sensor.garage_import_price").attributes["unit_of_measurement"] == "CNY/kWh"
    )
    assert (
        hass.states.get("sensor.garage_next_cheap_window").state == "2026-11-29T19:00:00+00:00"
    )  # 03:00 local
    assert hass.states.get("sensor.garage_tariff_period") is None  # no TOU periods


async def test_price_update_triggers_a_replan(
    hass: HomeAssistant, shanghai: None, evening: datetime
) -> None:
    start = dt_util.now().replace(minute=0)
    hass.states.async_set(
        "sensor.price", "0.3", {"raw_today": _hours(start, [0.3] * 14, "start", "value")}
    )
    entry = make_entry(tariff_kind="sensor", price_entity="sensor.price")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert (await _plan(hass, entry))["plan"]["slots"][0]["ev_kw"] > 0  # flat: charge early
    cheap_later = _hours(start, [0.3] * 6 + [0.01] * 8, "start", "value")
    hass.states.async_set("sensor.price", "0.3", {"raw_today": cheap_later})
    await hass.async_block_till_done(wait_background_tasks=True)  # no tick needed
    plan = (await _plan(hass, entry))["plan"]
    assert plan["slots"][0]["ev_kw"] == 0
    assert min(s["start"][11:16] for s in plan["slots"] if s["ev_kw"] > 0) == "00:00"


def test_gaps_take_the_last_known_price() -> None:
    t0 = datetime(2026, 11, 29, 18, tzinfo=dt_util.UTC)
    series = [
        {
            "start": (t0 + timedelta(hours=1)).isoformat(),
            "end": (t0 + timedelta(hours=2)).isoformat(),
            "value": 0.2,
        }
    ]
    out = cover(series, t0, t0 + timedelta(hours=4), 0.5)
    assert [(i["start"][11:13], i["end"][11:13], i["value"]) for i in out] == [
        ("18", "19", 0.5),
        ("19", "20", 0.2),
        ("20", "22", 0.2),
    ]


async def test_price_forecast_skips_junk(hass: HomeAssistant) -> None:
    hass.states.async_set(
        "sensor.p",
        "bad",
        {
            "raw_today": [
                {"start": "2026-11-29T18:00:00+08:00", "value": True},
                "junk",
                {"value": 1},
            ]
        },
    )
    assert price_forecast(hass, "sensor.p") == ([], None)
    assert price_forecast(hass, "sensor.none") == ([], None)


async def test_solcast_forecast_makes_it_wait_for_the_sun(
    hass: HomeAssistant, shanghai: None, freezer: FrozenDateTimeFactory
) -> None:
    # 07:00 local, leaving at 18:00; import flat 0.5 (custom TOU), PV 6 kW from 10:00 to 14:00.
    freezer.move_to(datetime(2026, 11, 29, 23, 0, tzinfo=dt_util.UTC))
    now = dt_util.now()
    forecast = [
        {
            "period_start": (now + timedelta(minutes=30 * i)).isoformat(),
            "pv_estimate": 6.0 if 6 <= i < 14 else 0.0,
        }
        for i in range(24)
    ]
    hass.states.async_set("sensor.solcast_today", "20", {"detailedForecast": forecast})
    hass.states.async_set("sensor.pv_power", "0", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.house", "500", {"unit_of_measurement": "W"})
    entry = make_entry(
        tariff_kind="custom",
        peak_price=0.5,
        offpeak_price=0.5,
        offpeak_start="00:00:00",
        offpeak_end="01:00:00",
        export_price=0.05,
        pv_forecast_entity="sensor.solcast_today",
        pv_power_entity="sensor.pv_power",
        house_power_entity="sensor.house",
        arrival_soc=60,
        phases=1,
        max_current=32,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await hass.services.async_call(
        DOMAIN,
        "set_session",
        {"config_entry_id": entry.entry_id, "departure": "18:00"},
        blocking=True,
    )
    assert hass.states.get("sensor.garage_plan_status").state == "waiting_for_solar"
    plan = (await _plan(hass, entry))["plan"]
    first = next(s for s in plan["slots"] if s["ev_kw"] > 0)
    assert first["start"][11:16] == "10:00"
    assert first["ev_kw"] == pytest.approx(5.5)  # the surplus: 6 kW PV - 0.5 kW house
    # At 10:00 the sun is up: charging on solar.
    hass.states.async_set("sensor.pv_power", "6000", {"unit_of_measurement": "W"})
    await advance(hass, freezer, 3 * 60 + 1)
    assert hass.states.get("sensor.garage_plan_status").state == "charging_on_solar"
    assert float(hass.states.get("sensor.garage_pv_surplus").state) == pytest.approx(5.5)
    # 5.5 kW planned -> 23 A on one phase (whole amps, never above the plan) = 5.29 kW.
    assert float(hass.states.get("sensor.garage_grid_power").state) == pytest.approx(
        0.5 + 5.29 - 6.0, abs=0.01
    )
    await advance(hass, freezer, 30)
    assert float(hass.states.get("sensor.garage_solar_share_this_month").state) == 100.0


async def test_energy_platform_solar_forecast(
    hass: HomeAssistant, shanghai: None, evening: datetime
) -> None:
    """Forecast.Solar and Solcast offer Wh per hour through their energy platform."""
    now = dt_util.now()
    wh_hours = {(now + timedelta(hours=h)).isoformat(): 1500.0 for h in (16, 17)}
    mock_integration(hass, MockModule("sunny"))
    mock_platform(
        hass,
        "sunny.energy",
        Mock(async_get_solar_forecast=AsyncMock(return_value={"wh_hours": wh_hours})),
    )
    source = MockConfigEntry(domain="sunny")
    source.add_to_hass(hass)
    er.async_get(hass).async_get_or_create(
        "sensor", "sunny", "today", config_entry=source, suggested_object_id="sunny"
    )
    series = await pv_forecast(hass, "sensor.sunny")
    assert [(i["start"], i["value"]) for i in series] == [
        ((now + timedelta(hours=16)).isoformat(), 1.5),
        ((now + timedelta(hours=17)).isoformat(), 1.5),
    ]
    assert await pv_forecast(hass, "sensor.unknown") == []
