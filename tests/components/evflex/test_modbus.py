"""A Modbus TCP charger in Home Assistant: the config flow against the simulator on
127.0.0.1, with each form error, and reconfigure changing the host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import patch

import pytest
import pytest_socket
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util

from chargersim.charger import SimCharger
from chargersim.server import SimServer
from custom_components.evflex.charger import create_driver
from custom_components.evflex.charger.modbus.driver import ModbusCharger
from custom_components.evflex.const import DOMAIN

from .conftest import make_entry

LIMITS = {"phases": "3", "voltage": 230, "min_current": 6, "max_current": 16}


@pytest.fixture
async def alfen(hass: HomeAssistant) -> AsyncIterator[SimServer]:
    """A simulated Alfen on HA's clock (the test's frozen time moves its car too)."""
    pytest_socket.enable_socket()
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    sim = SimCharger("alfen", clock=lambda: dt_util.utcnow().timestamp())
    server = SimServer(sim, port=0)
    await server.start()
    yield server
    await server.stop()


async def _charger_form(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Garage", "charger_source": "modbus"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "charger"
    return result


async def _submit(hass: HomeAssistant, result: Any, **fields: Any) -> Any:
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {**LIMITS, "host": "127.0.0.1", "modbus_model": "alfen", **fields}
    )


async def test_flow_errors_then_identified(hass: HomeAssistant, alfen: SimServer) -> None:
    result = await _charger_form(hass)
    closed = alfen.port + 1 if alfen.port < 65535 else alfen.port - 1
    result = await _submit(hass, result, port=closed)
    assert result["errors"] == {"host": "cannot_connect"}
    result = await _submit(hass, result, port=alfen.port, unit_id=7)
    assert result["errors"] == {"unit_id": "wrong_unit_id"}
    result = await _submit(hass, result, port=alfen.port, modbus_model="abb")
    assert result["errors"] == {"modbus_model": "wrong_model"}
    result = await _submit(hass, result, port=alfen.port)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "vehicle"
    assert not result.get("errors")


async def test_reconfigure_changes_the_host(hass: HomeAssistant, alfen: SimServer) -> None:
    entry = make_entry(
        charger_source="modbus", host="192.0.2.1", port=alfen.port, modbus_model="alfen"
    )
    entry.add_to_hass(hass)
    with patch("custom_components.evflex.async_setup_entry", return_value=True):
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"charger_source": "modbus"}
        )
        assert result["step_id"] == "charger"
        result = await _submit(hass, result, port=alfen.port)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["host"] == "127.0.0.1"


async def test_create_driver_builds_the_modbus_driver(hass: HomeAssistant) -> None:
    config = {
        **LIMITS,
        "charger_source": "modbus",
        "host": "127.0.0.1",
        "port": 1502.0,
        "unit_id": 200.0,
        "modbus_model": "vestel",
    }
    driver = create_driver(hass, config, None)
    assert isinstance(driver, ModbusCharger)
    assert (driver.model.key, driver.port, driver.unit) == ("vestel", 1502, 200)
    assert driver.limits.max_current == 16
