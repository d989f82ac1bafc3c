"""Regression tests: the control loop on ordinary days that used to go wrong.

Each test names the finding it covers (1-10); all run through Home Assistant: a
config entry, states, service calls, time moved by freezer.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.evflex.const import DOMAIN

from .conftest import setup_entry
from .wallbox import Wallbox, drive, wallbox_entry

SHANGHAI = "Asia/Shanghai"


def _local(hass: HomeAssistant) -> str:
    return dt_util.as_local(dt_util.now()).strftime("%H:%M")


def _state(hass: HomeAssistant, key: str) -> str:
    state = hass.states.get(f"sensor.garage_{key}")
    assert state is not None, key
    return state.state


def _float(hass: HomeAssistant, key: str) -> float:
    return float(_state(hass, key))


def _plan(entry: MockConfigEntry) -> dict[str, Any]:
    data = entry.runtime_data.data
    assert data is not None
    assert data.plan
    plan: dict[str, Any] = data.plan
    return plan


def _charging_slots(entry: MockConfigEntry) -> list[dict[str, Any]]:
    return [s for s in _plan(entry)["slots"] if s["ev_kw"] > 0]


def _no_repairs(hass: HomeAssistant) -> None:
    issues = [i for (d, i) in ir.async_get(hass).issues if d == DOMAIN]
    assert issues == []


# --- 1. a departure off the quarter hour ------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
@pytest.mark.parametrize("mode", ["off", "smart"])
async def test_1_departure_at_0740_is_planned_and_off_is_off(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, mode: str
) -> None:
    """Finding 1: a 07:40 departure used to fail the request and charge at 16 A in the peak."""
    entry = await setup_entry(hass)
    await hass.services.async_call(
        DOMAIN,
        "set_session",
        {"config_entry_id": entry.entry_id, "departure": "07:40", "mode": mode},
        blocking=True,
    )
    await drive(hass, freezer, None, 5)
    driver = entry.runtime_data.home.driver
    assert driver.current_a == 0  # 18:05: the peak, whatever the mode
    assert entry.runtime_data.data.source == "local"
    _no_repairs(hass)
    plan = _plan(entry)
    departure = datetime.fromisoformat(plan["slots"][-1]["end"])
    assert dt_util.as_local(departure).strftime("%H:%M") == "07:45"  # rounded up to a slot
    charging = _charging_slots(entry)
    if mode == "off":
        assert charging == []
        assert _state(hass, "plan_status") == "off"
        return
    local = [dt_util.as_local(datetime.fromisoformat(s["start"])) for s in charging]
    assert all(t.hour >= 22 or t.hour < 6 for t in local)  # the valley only
    assert plan["status"] == "ok"


# --- 2. no status and no SoC sensor; a sleeping SoC sensor; a brief "Available" -------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_2_without_status_or_soc_sensor_every_night_charges(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 2: the SoC estimate grew across nights and read 'target reached' for good."""
    entry, wallbox = await wallbox_entry(hass, Wallbox(hass, sensors=("power", "energy")))
    for night in range(3):
        wallbox.soc = 30.0  # the car comes home at 30% every evening
        charged_before = wallbox.meter_kwh
        # 18:00 -> 07:30 the next morning, then to 18:00 again.
        await drive(hass, freezer, wallbox, 13.5 * 60, step_s=120)
        assert wallbox.meter_kwh - charged_before == pytest.approx(30.0, abs=0.5), night
        await drive(hass, freezer, wallbox, 10.5 * 60, step_s=300)
    assert _state(hass, "state_of_charge") != "unavailable"
    del entry


@pytest.mark.usefixtures("shanghai", "evening")
async def test_2_a_sleeping_soc_sensor_keeps_the_estimate(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 2: an unavailable SoC sensor made the SoC jump back to the arrival estimate."""
    _, wallbox = await wallbox_entry(hass)
    wallbox.soc = 50.0
    await drive(hass, freezer, wallbox, 4 * 60 + 30)  # 22:30, charging since 22:00
    before = _float(hass, "state_of_charge")
    assert before > 50
    wallbox.soc_asleep = True
    await drive(hass, freezer, wallbox, 10)
    after = _float(hass, "state_of_charge")
    # Continued from the last reading by the metered energy, not back to 30%.
    assert after == pytest.approx(wallbox.soc, abs=0.6)
    assert after >= before


@pytest.mark.usefixtures("shanghai", "evening")
async def test_2_a_brief_available_does_not_end_the_session(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 2: a brief 'Available' from an OCPP charger reset the session."""
    _, wallbox = await wallbox_entry(hass)
    await drive(hass, freezer, wallbox, 4 * 60 + 30)
    energy = _float(hass, "session_energy")
    assert energy > 4
    wallbox.status_word = "Available"
    await drive(hass, freezer, wallbox, 1)
    wallbox.status_word = None
    await drive(hass, freezer, wallbox, 1)
    assert _float(hass, "session_energy") >= energy


# --- 3. a flickering energy meter ----------------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_3_a_flickering_meter_adds_nothing(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 3: unavailable -> integrated from 0 -> 'reset' -> 1234.6 kWh of session energy."""
    _, wallbox = await wallbox_entry(hass)
    await drive(hass, freezer, wallbox, 2)
    for _ in range(3):
        wallbox.meter_down = True
        await drive(hass, freezer, wallbox, 2)
        wallbox.meter_down = False
        await drive(hass, freezer, wallbox, 1)
    assert _float(hass, "session_energy") == 0.0  # 18:00-18:11 is the peak: nothing charged
    assert _float(hass, "state_of_charge") == pytest.approx(30.0)


# --- 4. read-back control ---------------------------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_4_a_charger_switched_on_by_its_app_is_switched_off(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 4: EVFlex compared with what it had written, never with what it read back."""
    _, wallbox = await wallbox_entry(hass)
    await drive(hass, freezer, wallbox, 1)
    assert not wallbox.on
    wallbox.on = True  # the vendor app, at 18:01, in the peak
    wallbox.publish()
    await drive(hass, freezer, wallbox, 1)
    assert not wallbox.on
    wallbox.reboot()  # a power cut: back on at 16 A
    await drive(hass, freezer, wallbox, 1)
    assert not wallbox.on


@pytest.mark.usefixtures("shanghai", "evening")
async def test_4_a_charger_that_ignores_a_write_gets_it_again(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 4: a write that the charger ignored was never repeated."""
    _, wallbox = await wallbox_entry(hass)
    await drive(hass, freezer, wallbox, 3 * 60 + 59)  # 21:59
    wallbox.ignore_writes = 2
    await drive(hass, freezer, wallbox, 4)  # 22:03: asked at 22:00, ignored twice, then followed
    assert wallbox.on
    assert wallbox.amps >= 6


# --- 5. reconfigure after the options flow ----------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_5_reconfigure_takes_effect_after_options(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 5: options held a full copy of the data and won: a new charger never ran."""
    entry, wallbox = await wallbox_entry(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "vehicle"}
    )
    while result["type"] == "form":
        result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] == "create_entry"
    assert "switch_entity" not in entry.options
    await hass.async_block_till_done()
    hass.states.async_set("switch.other", "off")
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"charger_source": "entities"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "switch_entity": "switch.other",
            "current_entity": "number.wb_current",
            "phases": "3",
            "voltage": 230,
            "min_current": 6,
            "max_current": 16,
        },
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    loaded = hass.config_entries.async_get_entry(entry.entry_id)
    assert loaded is not None
    assert loaded.runtime_data.home.driver.switch == "switch.other"
    del wallbox, freezer


# --- 6. two changes at once -----------------------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_6_the_newest_setting_wins(hass: HomeAssistant) -> None:
    """Finding 6: two quick target changes left a 90% setting with the 85% plan."""
    entry = await setup_entry(hass)
    calls = [
        hass.services.async_call(
            DOMAIN,
            "set_session",
            {"config_entry_id": entry.entry_id, "target_soc": target},
            blocking=True,
        )
        for target in (85, 90)
    ]
    import asyncio

    await asyncio.gather(*calls)
    await hass.async_block_till_done()
    request = entry.runtime_data.data.request
    assert request["vehicle"]["target_soc_pct"] == 90
    assert _plan(entry)["summary"]["soc_at_departure_pct"] == pytest.approx(90, abs=0.5)


# --- 7. the last slot before departure; DST fall-back ----------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_7_the_last_slot_before_departure_is_planned(hass: HomeAssistant) -> None:
    """Finding 7: a 07:30 departure planned only to 07:15."""
    entry = await setup_entry(hass)
    slots = _plan(entry)["slots"]
    assert dt_util.as_local(datetime.fromisoformat(slots[-1]["start"])).strftime("%H:%M") == (
        "07:15"
    )
    assert dt_util.as_local(datetime.fromisoformat(slots[-1]["end"])).strftime("%H:%M") == "07:30"


async def test_7_dst_fall_back_plans_from_now(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 7: on the night clocks go back, the plan started an hour in the past."""
    await hass.config.async_set_time_zone("Europe/Berlin")
    hass.config.currency = "EUR"
    # Clocks go back on Sunday 25 Oct 2026, 03:00 CEST -> 02:00 CET. Now: 01:20 CEST
    # (23:20 UTC on the 24th); the departure 07:30 CET is 06:30 UTC.
    freezer.move_to(datetime(2026, 10, 24, 23, 20, tzinfo=dt_util.UTC))
    entry = await setup_entry(
        hass,
        tariff_kind="custom",
        peak_price=0.40,
        offpeak_price=0.20,
        offpeak_start="01:00:00",
        offpeak_end="06:00:00",
        currency="EUR",
    )
    slots = _plan(entry)["slots"]
    first = datetime.fromisoformat(slots[0]["start"])
    assert first == datetime(2026, 10, 24, 23, 15, tzinfo=dt_util.UTC)
    last = datetime.fromisoformat(slots[-1]["end"])
    assert last == datetime(2026, 10, 25, 6, 30, tzinfo=dt_util.UTC)
    # 7 h 15 min of real time: 29 slots of 15 minutes, one after the other.
    assert len(slots) == 29
    for a, b in itertools.pairwise(slots):
        assert datetime.fromisoformat(a["end"]) == datetime.fromisoformat(b["start"])


# --- 8. a boost does not outlive its session -------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_8_an_energy_boost_ends_with_the_session(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 8: an energy boost survived unplugging and fired again at the next plug-in."""
    entry, wallbox = await wallbox_entry(hass)
    await hass.services.async_call(
        DOMAIN, "boost", {"config_entry_id": entry.entry_id, "energy_kwh": 20}, blocking=True
    )
    await drive(hass, freezer, wallbox, 10)
    assert wallbox.on  # boosting in the peak
    wallbox.plugged = False
    await drive(hass, freezer, wallbox, 5)
    assert not wallbox.on or wallbox.power_kw == 0
    wallbox.plugged = True
    await drive(hass, freezer, wallbox, 2)  # 18:17, back home: the peak, no boost left
    assert not wallbox.on
    assert _state(hass, "plan_status") != "boost"


# --- 9. unknown prices -------------------------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_9_an_unavailable_price_sensor_is_not_free_energy(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 9: an unavailable price sensor meant a flat zero price and no repair."""
    hass.states.async_set("sensor.price", "0.30", {"unit_of_measurement": "CNY/kWh"})
    entry = await setup_entry(hass, tariff_kind="sensor", price_entity="sensor.price")
    hass.states.async_set("sensor.price", "unavailable")
    await drive(hass, freezer, None, 16)
    assert _state(hass, "plan_status") == "prices_unknown"
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"prices_unknown_{entry.entry_id}") is None
    await drive(hass, freezer, None, 60, step_s=300)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"prices_unknown_{entry.entry_id}")
    hass.states.async_set("sensor.price", "0.31", {"unit_of_measurement": "CNY/kWh"})
    await drive(hass, freezer, None, 1)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"prices_unknown_{entry.entry_id}") is None


@pytest.mark.usefixtures("shanghai", "evening")
async def test_9_a_forecast_that_ends_early_is_not_extended_as_cheap(
    hass: HomeAssistant,
) -> None:
    """Finding 9: a forecast that ended early was extended with its last (cheap) price."""
    start = dt_util.now().replace(minute=0, second=0, microsecond=0)
    # Known: 18:00-24:00, cheapest at 23:00 (0.10); nothing is known after midnight.
    hours = [(start + timedelta(hours=h), 0.10 if h == 5 else 0.50) for h in range(6)]
    forecast = [
        {"start": t.isoformat(), "end": (t + timedelta(hours=1)).isoformat(), "value": v}
        for t, v in hours
    ]
    hass.states.async_set(
        "sensor.price", "0.50", {"unit_of_measurement": "CNY/kWh", "raw_today": forecast}
    )
    entry = await setup_entry(hass, tariff_kind="sensor", price_entity="sensor.price")
    prices = {s["start"]: s["import_price"] for s in _plan(entry)["slots"]}
    after_midnight = [
        p for t, p in prices.items() if datetime.fromisoformat(t) >= start + timedelta(hours=6)
    ]
    assert after_midnight
    assert all(p == pytest.approx(0.50) for p in after_midnight)
    assert entry.runtime_data.home.planner.note == "prices_partial"


# --- 10. solar_only follows the sun ------------------------------------------------------


@pytest.mark.usefixtures("shanghai")
async def test_10_solar_only_follows_the_measured_surplus(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 10: solar_only applied the forecast for the whole slot; under a cloud it imported."""
    freezer.move_to(datetime(2026, 11, 30, 3, 0, tzinfo=dt_util.UTC))  # 11:00 in Shanghai
    hass.states.async_set("sensor.pv", "9.0", {"unit_of_measurement": "kW"})
    hass.states.async_set("sensor.house", "0.5", {"unit_of_measurement": "kW"})
    entry = await setup_entry(hass, pv_power_entity="sensor.pv", house_power_entity="sensor.house")
    await hass.services.async_call(
        DOMAIN,
        "set_session",
        {"config_entry_id": entry.entry_id, "mode": "solar_only", "departure": "17:00"},
        blocking=True,
    )
    await drive(hass, freezer, None, 1)
    driver = entry.runtime_data.home.driver
    assert driver.current_a == 12  # 8.5 kW of surplus: 12.3 A on three phases -> 12 A
    hass.states.async_set("sensor.pv", "2.0", {"unit_of_measurement": "kW"})  # a cloud
    await drive(hass, freezer, None, 1)
    assert driver.current_a == 0  # 1.5 kW: below the 6 A minimum, no import
    hass.states.async_set("sensor.pv", "6.0", {"unit_of_measurement": "kW"})
    await drive(hass, freezer, None, 1)
    assert driver.current_a == 7  # 5.5 kW -> 7.97 A -> 7 A


@pytest.mark.usefixtures("shanghai", "evening")
async def test_8_a_boost_without_a_car_is_refused_with_a_reason(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 8: a boost belongs to a session; with no car there is none to boost."""
    from homeassistant.exceptions import ServiceValidationError

    entry, wallbox = await wallbox_entry(hass)
    wallbox.plugged = False
    await drive(hass, freezer, wallbox, 3)
    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(
            DOMAIN, "boost", {"config_entry_id": entry.entry_id, "energy_kwh": 5}, blocking=True
        )
    assert refused.value.translation_placeholders == {
        "field": "boost",
        "rule": "needs the car plugged in",
    }
