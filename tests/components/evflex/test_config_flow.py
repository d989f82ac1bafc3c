"""Every config, options and reconfigure flow path, and each form error."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.evflex.const import DOMAIN

from .conftest import make_entry

CHARGER_LIMITS = {"phases": "3", "voltage": 230, "min_current": 6, "max_current": 16}
VEHICLE = {"battery_kwh": 60, "efficiency": 0.9, "arrival_soc": 40}
GRID = {"max_start_delay_s": 600}


async def _start(hass: HomeAssistant, source: str) -> Any:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Garage", "charger_source": source}
    )


async def _walk(hass: HomeAssistant, result: Any, *steps: tuple[str, Any]) -> Any:
    for step_id, user_input in steps:
        assert result["type"] is FlowResultType.FORM, result
        assert result["step_id"] == step_id
        assert not result.get("errors")
        result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    return result


@pytest.fixture
async def sensors(hass: HomeAssistant) -> None:
    hass.states.async_set("switch.wallbox", "off")
    hass.states.async_set("number.wallbox_current", "16", {"unit_of_measurement": "A"})
    hass.states.async_set("sensor.wallbox_power", "0", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.pv_power", "2500", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.house_power", "600", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.nordpool", "0.21", {"unit_of_measurement": "EUR/kWh"})
    hass.states.async_set("sensor.no_price", "unknown")


async def test_simulated_with_preset(hass: HomeAssistant) -> None:
    result = await _start(hass, "simulated")
    result = await _walk(
        hass,
        result,
        ("charger", CHARGER_LIMITS),
        ("vehicle", VEHICLE),
        ("energy", {}),
        ("tariff", {"tariff_kind": "preset"}),
        ("tariff_preset", {"preset": "shanghai_residential_tou"}),
        ("grid", {**GRID, "import_limit_kw": 7.0}),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Garage"
    # The charger is the entry's data; everything else is an option (the options flow
    # changes options only, so a reconfigured charger is never hidden by a copy).
    assert result["data"] == {"charger_source": "simulated", **CHARGER_LIMITS, "phases": 3}
    assert result["options"] == {
        **VEHICLE,
        "tariff_kind": "preset",
        "preset": "shanghai_residential_tou",
        **GRID,
        "charging_preference": "grid_friendly",
        "import_limit_kw": 7.0,
    }
    assert result["result"].unique_id == "simulated_garage"


async def test_entities_with_custom_tariff_and_every_error(
    hass: HomeAssistant, sensors: None
) -> None:
    result = await _start(hass, "entities")
    assert result["step_id"] == "charger"
    # Neither a switch nor a setpoint: nothing to control.
    result = await hass.config_entries.flow.async_configure(result["flow_id"], CHARGER_LIMITS)
    assert result["errors"] == {"base": "need_control"}
    # A switch that does not exist, and min above max.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**CHARGER_LIMITS, "switch_entity": "switch.nope", "min_current": 20}
    )
    assert result["errors"] == {"switch_entity": "entity_not_found", "min_current": "min_above_max"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            **CHARGER_LIMITS,
            "switch_entity": "switch.wallbox",
            "current_entity": "number.wallbox_current",
            "power_entity": "sensor.wallbox_power",
        },
    )
    assert result["step_id"] == "vehicle"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**VEHICLE, "soc_entity": "sensor.car_soc"}
    )
    assert result["errors"] == {"soc_entity": "entity_not_found"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], VEHICLE)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"pv_power_entity": "sensor.nope"}
    )
    assert result["errors"] == {"pv_power_entity": "entity_not_found"}
    result = await _walk(
        hass,
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"pv_power_entity": "sensor.pv_power", "house_power_entity": "sensor.house_power"},
        ),
        ("tariff", {"tariff_kind": "custom"}),
    )
    assert result["step_id"] == "tariff_custom"
    custom = {
        "peak_price": 0.32,
        "offpeak_price": 0.12,
        "offpeak_start": "23:00:00",
        "offpeak_end": "23:00:00",
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], custom)
    assert result["errors"] == {"offpeak_end": "same_times"}
    result = await _walk(
        hass,
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {**custom, "offpeak_end": "07:00:00"}
        ),
        ("grid", GRID),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    data = {**result["data"], **result["options"]}
    assert data["switch_entity"] == "switch.wallbox"
    assert data["pv_power_entity"] == "sensor.pv_power"
    assert data["offpeak_end"] == "07:00:00"
    assert "soc_entity" not in data


async def test_price_sensor_errors(hass: HomeAssistant, sensors: None) -> None:
    result = await _walk(
        hass,
        await _start(hass, "simulated"),
        ("charger", CHARGER_LIMITS),
        ("vehicle", VEHICLE),
        ("energy", {}),
        ("tariff", {"tariff_kind": "sensor"}),
    )
    assert result["step_id"] == "tariff_sensor"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"price_entity": "sensor.no_price"}
    )
    assert result["errors"] == {"price_entity": "no_price"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"price_entity": "sensor.nordpool", "export_price_entity": "sensor.gone"}
    )
    assert result["errors"] == {"export_price_entity": "entity_not_found"}
    result = await _walk(
        hass,
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"price_entity": "sensor.nordpool", "export_price": 0.05}
        ),
        ("grid", GRID),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"]["price_entity"] == "sensor.nordpool"


async def test_remote_url_is_checked(hass: HomeAssistant, companion: str) -> None:
    result = await _walk(
        hass,
        await _start(hass, "simulated"),
        ("charger", CHARGER_LIMITS),
        ("vehicle", VEHICLE),
        ("energy", {}),
        ("tariff", {"tariff_kind": "preset"}),
        ("tariff_preset", {"preset": "sce_tou_ev_8"}),
    )
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**GRID, "remote_url": closed}
    )
    assert result["errors"] == {"remote_url": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**GRID, "remote_url": f"{companion}/openapi.json#"}
    )
    assert result["errors"] == {"remote_url": "not_optimizer"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**GRID, "remote_url": companion}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"]["remote_url"] == companion


async def test_the_same_charger_twice_aborts(hass: HomeAssistant, sensors: None) -> None:
    make_entry().add_to_hass(hass)
    result = await _start(hass, "simulated")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], CHARGER_LIMITS)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # The unique id is the charger, not the typed name: another name does not help.
    entry = MockConfigEntry(domain=DOMAIN, unique_id="entity_switch.wallbox", title="A")
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Another name", "charger_source": "entities"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**CHARGER_LIMITS, "switch_entity": "switch.wallbox"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_a_charger_that_cannot_stop_is_refused(hass: HomeAssistant) -> None:
    hass.states.async_set("number.wb_current", "16", {"unit_of_measurement": "A", "min": 6})
    result = await hass.config_entries.flow.async_configure(
        (await _start(hass, "entities"))["flow_id"],
        {**CHARGER_LIMITS, "current_entity": "number.wb_current"},
    )
    assert result["errors"] == {"current_entity": "cannot_stop"}


async def test_options_flow_changes_and_clears(
    hass: HomeAssistant, entry: MockConfigEntry, sensors: None
) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "vehicle"}
    )
    assert result["step_id"] == "vehicle"
    for step_id, user_input in (
        ("vehicle", {**VEHICLE, "battery_kwh": 77}),
        ("energy", {"pv_power_entity": "sensor.pv_power"}),
        ("tariff", {"tariff_kind": "preset"}),
        ("tariff_preset", {"preset": "sce_tou_ev_8"}),
        ("grid", {"max_start_delay_s": 120, "export_limit_kw": 0}),
    ):
        assert result["step_id"] == step_id
        result = await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options["battery_kwh"] == 77
    assert entry.options["preset"] == "sce_tou_ev_8"
    assert entry.options["max_start_delay_s"] == 120
    # The entry reloaded with the new tariff: prices in USD now.
    assert (
        hass.states.get("sensor.garage_import_price").attributes["unit_of_measurement"] == "USD/kWh"
    )
    assert hass.states.get("sensor.garage_pv_power") is not None


async def test_reconfigure_changes_the_charger(
    hass: HomeAssistant, entry: MockConfigEntry, sensors: None
) -> None:
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"charger_source": "entities"}
    )
    assert result["step_id"] == "charger"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**CHARGER_LIMITS, "phases": "1", "switch_entity": "switch.wallbox"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data["charger_source"] == "entities"
    assert entry.data["switch_entity"] == "switch.wallbox"
    assert entry.data["phases"] == 1
    assert entry.options["preset"] == "shanghai_residential_tou"  # the rest is kept
    assert entry.unique_id == "entity_switch.wallbox"
