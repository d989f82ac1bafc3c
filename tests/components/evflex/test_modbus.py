"""A Modbus TCP charger in Home Assistant: the config flow against the simulator on
127.0.0.1, with each form error, and reconfigure changing the host; the charger
going away (unavailable, a repair after five minutes, recovery); a simulated night
with a simulated Alfen, checked against the simulator's own energy counter.

Time: the tests' frozen clock drives both EVFlex and the simulated car. The loop's
clock stands still between ticks, so nothing in the driver may wait on it (see
tests/modbus/test_frozen_clock.py); the time steps here are 30 s, the coordinator's
cycle, so the keep-alive (every 15 s of Alfen's 60 s validity) runs at every step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from unittest.mock import patch

import pytest
import pytest_socket
from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from chargersim.charger import SimCharger
from chargersim.server import SimServer
from custom_components.evflex.charger import create_driver
from custom_components.evflex.charger.modbus.driver import ModbusCharger
from custom_components.evflex.const import DOMAIN

from .conftest import advance, make_entry, setup_entry

LIMITS = {"phases": "3", "voltage": 230, "min_current": 6, "max_current": 16}


@pytest.fixture
async def alfen(hass: HomeAssistant) -> AsyncIterator[SimServer]:
    """A simulated Alfen on HA's clock (the test's frozen time moves its car too)."""
    pytest_socket.enable_socket()
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    # The car of the conftest's entry: 60 kWh at 30 %, no charging losses.
    sim = SimCharger(
        "alfen",
        clock=lambda: dt_util.utcnow().timestamp(),
        soc_pct=30,
        battery_kwh=60,
        efficiency=1.0,
    )
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


async def _modbus_entry(hass: HomeAssistant, alfen: SimServer) -> Any:
    assert alfen.sim.t == dt_util.utcnow().timestamp()  # one clock for car and EVFlex
    return await setup_entry(
        hass, charger_source="modbus", host="127.0.0.1", port=alfen.port, modbus_model="alfen"
    )


def _state(hass: HomeAssistant, key: str) -> str:
    return str(hass.states.get(f"sensor.garage_{key}").state)


async def test_unreachable_charger_repair_then_recovery(
    hass: HomeAssistant,
    shanghai: None,
    evening: datetime,
    freezer: FrozenDateTimeFactory,
    alfen: SimServer,  # after `evening`: the simulated car starts at 18:00 too
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await _modbus_entry(hass, alfen)
    issue_id = f"charger_unreachable_{entry.entry_id}"
    issues = ir.async_get(hass)
    await advance(hass, freezer, 1, step_s=30)
    assert _state(hass, "charger_status") == "connected"
    assert _state(hass, "plan_status") == "waiting_for_cheap_hours"
    port = alfen.port
    await alfen.stop()  # the charger goes off the network
    await advance(hass, freezer, 1, step_s=30)
    assert _state(hass, "charging_power") == STATE_UNAVAILABLE
    assert _state(hass, "plan_status") == STATE_UNAVAILABLE
    assert issues.async_get_issue(DOMAIN, issue_id) is None  # not after one minute
    # Minutes 1 -> 4.5 of the outage: still no repair.
    await advance(hass, freezer, 3.5, step_s=30)
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    # Five minutes of failed reads: the repair.
    await advance(hass, freezer, 1, step_s=30)
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    # The error names the charger (the driver's last word: refused, or backing off).
    assert issue.translation_placeholders["error"].startswith(
        f"Alfen Eve (NG9xx) at 127.0.0.1:{alfen.port}"
    )
    # The charger returns on the same address. The driver's back-off has reached
    # 1+2+4+...: at most 60 s, so within two cycles after that it answers again.
    back = SimServer(alfen.sim, port=port)
    await back.start()
    try:
        await advance(hass, freezer, 1.5, step_s=30)
        assert issues.async_get_issue(DOMAIN, issue_id) is None
        assert _state(hass, "charger_status") == "connected"
        assert _state(hass, "plan_status") == "waiting_for_cheap_hours"
        assert _state(hass, "charging_power") == "0.0"
        # Logged once when it went and once when it came back, not at every attempt.
        driver_lines = [
            r.getMessage() for r in caplog.records if r.name.endswith("charger.modbus.driver")
        ]
        assert sum("does not answer" in m for m in driver_lines) == 1
        assert sum("answers again" in m for m in driver_lines) == 1
        # The outage did not start charging at peak price: the limit is still 0.
        assert alfen.sim.commanded == 0
        assert alfen.sim.draw_a == 0
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await back.stop()


async def test_simulated_night_with_a_simulated_alfen(
    hass: HomeAssistant,
    shanghai: None,
    evening: datetime,
    freezer: FrozenDateTimeFactory,
    alfen: SimServer,  # after `evening`: the simulated car starts at 18:00 too
) -> None:
    sim = alfen.sim
    entry = await _modbus_entry(hass, alfen)
    # 18:00 -> 21:59: peak price, the charger is held at 0 A (and kept fed: the
    # Alfen would fall back to its 6 A safe current after 60 s without a write).
    await advance(hass, freezer, 239.5, step_s=30)
    assert dt_util.as_local(dt_util.now()).strftime("%H:%M") == "21:59"
    assert sim.commanded == 0
    assert sim.fallbacks == 0
    assert sim.energy_wh == 0
    assert _state(hass, "current_limit") == "0.0"
    # 22:00: the valley; 16 A x 3 x 230 V = 11.04 kW (the cycle at 22:00 writes the
    # limit, the next one reads the car drawing it).
    await advance(hass, freezer, 1.5, step_s=30)
    assert sim.commanded == 16
    assert _state(hass, "charger_status") == "charging"
    assert float(_state(hass, "charging_power")) == pytest.approx(11.04, abs=0.01)
    # 30 kWh (30 % -> 80 % of 60 kWh) at 11.04 kW: 2 h 43 min, done about 00:43.
    await advance(hass, freezer, 179, step_s=30)
    assert dt_util.as_local(dt_util.now()).strftime("%H:%M") == "01:00"
    assert sim.commanded == 0
    assert sim.draw_a == 0
    assert _state(hass, "plan_status") == "target_reached"
    assert sim.soc_pct == pytest.approx(80.0, abs=0.5)
    # 01:00 -> 07:30: nothing more is drawn (so all of it was drawn 22:00 -> 01:00, in
    # the valley), and the watchdog was fed all night: it never fell back to 6 A.
    charged_wh = sim.energy_wh
    await advance(hass, freezer, 6 * 60 + 30, step_s=30)
    assert dt_util.as_local(dt_util.now()).strftime("%H:%M") == "07:30"
    assert sim.energy_wh == charged_wh
    assert sim.fallbacks == 0
    # The simulator's counter and EVFlex's session energy: within 1 %.
    session = float(_state(hass, "session_energy"))
    assert session == pytest.approx(sim.energy_wh / 1000, rel=0.01)
    assert session == pytest.approx(30.0, abs=0.3)
    await hass.config_entries.async_unload(entry.entry_id)
    # Unloaded: the charger is left at its safe current (6 A), the documented state.
    assert sim.commanded == 6
