"""A night in Shanghai (time moved by freezer): charging in the valley, stopping at the target."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.evflex.const import EVENT_CHARGING_STARTED, EVENT_CHARGING_STOPPED

from .conftest import advance, make_entry


def _local(hass: HomeAssistant) -> str:
    return dt_util.as_local(dt_util.now()).strftime("%H:%M")


def _soc(hass: HomeAssistant) -> float:
    return float(hass.states.get("sensor.garage_state_of_charge").state)


async def test_simulated_night_charges_in_the_valley(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    started = async_capture_events(hass, EVENT_CHARGING_STARTED)
    stopped = async_capture_events(hass, EVENT_CHARGING_STOPPED)
    assert hass.states.get("sensor.garage_plan_status").state == "waiting_for_cheap_hours"
    # 18:00 -> 21:59: peak price, nothing charges.
    await advance(hass, freezer, 239)
    assert _local(hass) == "21:59"
    assert hass.states.get("sensor.garage_current_limit").state == "0.0"
    assert _soc(hass) == pytest.approx(30.0)
    # 22:00: the valley starts, 16 A on three phases.
    await advance(hass, freezer, 2)
    assert hass.states.get("sensor.garage_current_limit").state == "16.0"
    assert hass.states.get("sensor.garage_plan_status").state == "charging"
    assert hass.states.get("sensor.garage_charger_status").state == "charging"
    assert float(hass.states.get("sensor.garage_charging_power").state) == pytest.approx(11.04)
    assert len(started) == 1
    # Through the night to 07:30: 30 kWh charged by about 00:45, then it stops.
    await advance(hass, freezer, 9 * 60 + 28)
    assert _local(hass) == "07:29"
    assert _soc(hass) == pytest.approx(80.0, abs=0.5)
    assert hass.states.get("sensor.garage_current_limit").state == "0.0"
    assert hass.states.get("sensor.garage_plan_status").state == "target_reached"
    assert len(stopped) == 1
    assert float(hass.states.get("sensor.garage_session_energy").state) == pytest.approx(
        30.0, abs=0.3
    )
    # Everything in the valley: all off-peak, cost 0.307 per kWh, savings against
    # charging on arrival at 18:00 (peak, 0.617): 30 x 0.31 = 9.3.
    assert float(hass.states.get("sensor.garage_off_peak_share_this_month").state) == 100.0
    savings = float(hass.states.get("sensor.garage_savings_this_month").state)
    energy = float(hass.states.get("sensor.garage_session_energy").state)
    assert savings == pytest.approx(energy * (0.617 - 0.307), abs=0.05)


async def test_entity_charger_is_switched_and_set(
    hass: HomeAssistant, shanghai: None, evening: datetime, freezer: FrozenDateTimeFactory
) -> None:
    """Charger entities of another integration (here input_boolean/input_number) are driven."""
    assert await async_setup_component(
        hass,
        "input_boolean",
        {"input_boolean": {"wallbox_charging": {"name": "Wallbox charging"}}},
    )
    assert await async_setup_component(
        hass,
        "input_number",
        {
            "input_number": {
                "wallbox_current": {"min": 0, "max": 32, "step": 1, "unit_of_measurement": "A"}
            }
        },
    )
    await hass.async_block_till_done()
    calls: list[tuple[str, str]] = []
    hass.bus.async_listen(
        "call_service", lambda e: calls.append((e.data["domain"], e.data["service"]))
    )
    data: dict[str, Any] = {
        "charger_source": "entities",
        "switch_entity": "input_boolean.wallbox_charging",
        "current_entity": "input_number.wallbox_current",
        "arrival_soc": 50,
    }
    config_entry = make_entry(**data)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.wallbox_charging").state == "off"
    # 50% -> 80% of 60 kWh: 18 kWh, 22:00 -> about 23:38 at 11.04 kW.
    await advance(hass, freezer, 241)
    assert hass.states.get("input_boolean.wallbox_charging").state == "on"
    assert hass.states.get("input_number.wallbox_current").state == "16.0"
    assert ("input_number", "set_value") in calls
    assert ("input_boolean", "turn_on") in calls
    # With no power or energy sensor, the SoC estimate cannot move: the plan keeps
    # charging until the planned end, then switches off.
    await advance(hass, freezer, 120)
    assert hass.states.get("input_boolean.wallbox_charging").state == "off"
