"""Set-up, unload, reload, an unreachable charger, and state kept across a restart."""

from __future__ import annotations

from datetime import datetime

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.evflex.charger.simulated import SimulatedCharger
from custom_components.evflex.const import DOMAIN

from .conftest import advance, make_entry


async def test_unload_and_reload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get("sensor.garage_plan_status").state == STATE_UNAVAILABLE


async def test_one_device_with_translated_entities(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    from homeassistant.helpers import device_registry as dr
    from homeassistant.helpers import entity_registry as er

    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert [(d.name, d.manufacturer, d.model) for d in devices] == [
        ("Garage", "EVFlex", "Simulated charger")
    ]
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    # no PV power, no PV surplus without a PV sensor; the participation switch; the
    # next departure; the four dispatch sensors and the two programme earnings
    assert len(entities) == 34
    assert all(e.unique_id.startswith(entry.entry_id) for e in entities)
    assert all(e.device_id == devices[0].id for e in entities)
    status = hass.states.get("sensor.garage_plan_status")
    assert status.attributes["device_class"] == "enum"
    assert "waiting_for_cheap_hours" in status.attributes["options"]
    energy = hass.states.get("sensor.garage_session_energy")
    assert (energy.attributes["device_class"], energy.attributes["state_class"]) == (
        "energy",
        "total_increasing",
    )
    assert (
        hass.states.get("sensor.garage_import_price").attributes["unit_of_measurement"] == "CNY/kWh"
    )
    savings = hass.states.get("sensor.garage_savings_this_month")
    assert (savings.attributes["device_class"], savings.attributes["unit_of_measurement"]) == (
        "monetary",
        "CNY",
    )


async def test_unreachable_charger_goes_unavailable_and_raises_a_repair(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    charger = entry.runtime_data.home.driver
    assert isinstance(charger, SimulatedCharger)
    charger.reachable = False
    await advance(hass, freezer, 1)
    assert hass.states.get("sensor.garage_charging_power").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.garage_plan_status").state == STATE_UNAVAILABLE
    # Settings stay usable: the user can still change the departure.
    assert hass.states.get("time.garage_departure").state == "07:30:00"
    # One failed read is not worth a repair; five minutes of them are.
    issue_id = f"charger_unreachable_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    await advance(hass, freezer, 5)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders["error"] == "the simulated charger does not answer"
    assert issue.severity is ir.IssueSeverity.ERROR
    charger.reachable = True
    await advance(hass, freezer, 1)
    assert hass.states.get("sensor.garage_plan_status").state == "waiting_for_cheap_hours"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, f"charger_unreachable_{entry.entry_id}") is None
    )


async def test_setup_retries_while_the_charger_is_unreachable(
    hass: HomeAssistant, shanghai: None, evening: datetime
) -> None:
    config_entry = make_entry(charger_source="entities", switch_entity="switch.missing")
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_state_survives_a_restart(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    no_store_delay: None,
) -> None:
    await hass.services.async_call(
        "time",
        "set_value",
        {"entity_id": "time.garage_departure", "time": "06:45:00"},
        blocking=True,
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.garage_target_state_of_charge", "value": 90},
        blocking=True,
    )
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.garage_charging_mode", "option": "solar_only"},
        blocking=True,
    )
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.garage_boost_for_an_hour"}, blocking=True
    )
    await advance(hass, freezer, 10)  # boost charges the simulated car
    soc_before = float(hass.states.get("sensor.garage_state_of_charge").state)
    energy_before = float(hass.states.get("sensor.garage_session_energy").state)
    assert soc_before > 30
    # A restart: unload, then set up again from what was stored.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("time.garage_departure").state == "06:45:00"
    assert hass.states.get("number.garage_target_state_of_charge").state == "90.0"
    assert hass.states.get("select.garage_charging_mode").state == "solar_only"
    assert hass.states.get("sensor.garage_plan_status").state == "boost"  # the boost runs on
    assert float(hass.states.get("sensor.garage_state_of_charge").state) == soc_before
    assert float(hass.states.get("sensor.garage_session_energy").state) >= energy_before
