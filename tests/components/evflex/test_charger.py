"""The charger drivers against real Home Assistant states, and a plug-in session."""

from __future__ import annotations

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

from custom_components.evflex.charger.base import ChargerError, ChargerLimits
from custom_components.evflex.charger.entities import EntityCharger
from custom_components.evflex.charger.simulated import SimulatedCharger

from .conftest import advance

THREE_PHASE = ChargerLimits(phases=3, voltage=230, min_current=6, max_current=16)


def test_setpoints_are_whole_amps_within_limits() -> None:
    assert THREE_PHASE.min_kw == pytest.approx(4.14)
    assert THREE_PHASE.max_kw == pytest.approx(11.04)
    assert THREE_PHASE.amps(0) == 0
    assert THREE_PHASE.amps(4.0) == 0  # below the 6 A minimum
    assert THREE_PHASE.amps(4.14) == 6
    assert THREE_PHASE.amps(10.0) == 14  # 14.49 A: never above the plan
    assert THREE_PHASE.amps(50) == 16


@pytest.mark.parametrize(
    ("word", "connected", "status"),
    [
        ("Available", False, "disconnected"),  # OCPP, no car
        ("Preparing", True, "connected"),  # OCPP, car plugged
        ("Charging", True, "charging"),
        ("SuspendedEV", True, "connected"),
        ("Faulted", True, "error"),
        ("disconnected", False, "disconnected"),  # Easee
        ("awaiting_start", True, "connected"),
        ("Ready", False, "disconnected"),  # Wallbox: no car
        ("Connected: waiting for car demand", True, "connected"),
        ("something new", True, "connected"),  # unknown: never leave a car uncharged
    ],
)
async def test_status_vocabulary(
    hass: HomeAssistant, word: str, connected: bool, status: str
) -> None:
    hass.states.async_set("switch.wb", "off")
    hass.states.async_set("sensor.wb_status", word)
    charger = EntityCharger(
        hass, THREE_PHASE, switch="switch.wb", current=None, status="sensor.wb_status"
    )
    state = await charger.async_read()
    assert (state.connected, state.status) == (connected, status)


async def test_power_and_energy_units_and_a_power_setpoint(hass: HomeAssistant) -> None:
    hass.states.async_set("number.wb_power", "7000", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.wb_power", "6900", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.wb_energy", "1234", {"unit_of_measurement": "Wh"})
    charger = EntityCharger(
        hass,
        THREE_PHASE,
        switch=None,
        current="number.wb_power",
        power="sensor.wb_power",
        energy="sensor.wb_energy",
    )
    state = await charger.async_read()
    assert state.power_kw == pytest.approx(6.9)
    assert state.energy_kwh == pytest.approx(1.234)
    assert state.setpoint_a == pytest.approx(7000 / 690)
    assert state.charging
    calls = async_mock_service(hass, "number", "set_value")
    await charger.async_set_current(10)
    await charger.async_set_current(0)  # no switch: the setpoint goes to 0
    assert [c.data["value"] for c in calls] == [pytest.approx(6900.0), 0.0]


async def test_unavailable_or_refusing_charger(hass: HomeAssistant) -> None:
    charger = EntityCharger(hass, THREE_PHASE, switch="switch.wb", current="number.wb")
    with pytest.raises(ChargerError, match=r"switch\.wb is unavailable"):
        await charger.async_read()
    hass.states.async_set("switch.wb", "on")
    hass.states.async_set("number.wb", "unavailable")
    with pytest.raises(ChargerError, match=r"number\.wb is unavailable"):
        await charger.async_read()
    hass.states.async_set("number.wb", "10", {"unit_of_measurement": "A"})

    async def refuse(call: ServiceCall) -> None:
        raise HomeAssistantError("offline")

    hass.services.async_register("number", "set_value", refuse)
    with pytest.raises(ChargerError, match="refused the command: offline"):
        await charger.async_set_current(8)


async def test_plug_in_session_counts_energy_and_savings(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    charger = entry.runtime_data.home.driver
    assert isinstance(charger, SimulatedCharger)
    charger.plug(False)
    await advance(hass, freezer, 3)
    assert hass.states.get("sensor.garage_plan_status").state == "not_connected"
    assert hass.states.get("sensor.garage_charger_status").state == "disconnected"
    # Plugged in at 18:01 with 50%: a new session; charged in the valley to 80%.
    charger.plug(True, soc_pct=50)
    await advance(hass, freezer, 6 * 60)  # to 00:02: 18 kWh from 22:00 take 1 h 38 min
    assert float(hass.states.get("sensor.garage_state_of_charge").state) == pytest.approx(
        80.0, abs=0.2
    )
    assert float(hass.states.get("sensor.garage_session_energy").state) == pytest.approx(
        18.0, abs=0.1
    )
    charger.plug(False)
    await advance(hass, freezer, 3)  # an unplug counts once it has lasted 2 minutes
    # Charged on arrival, 18 kWh would have cost the peak price: 18 x 0.617;
    # it cost the valley price: 18 x 0.307.
    savings = float(hass.states.get("sensor.garage_savings_this_month").state)
    assert savings == pytest.approx(18 * (0.617 - 0.307), abs=0.05)


async def test_simulated_car_stops_when_full(hass: HomeAssistant) -> None:
    charger = SimulatedCharger(THREE_PHASE, battery_kwh=10, soc_pct=99, efficiency=1.0)
    await charger.async_set_current(16)
    state = await charger.async_read()
    assert state.charging
    charger.soc_pct = 100
    assert not (await charger.async_read()).charging
