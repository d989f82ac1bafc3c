"""The Modbus driver against the simulator over real TCP, for every model."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from chargersim.charger import SimCharger
from chargersim.server import SimServer
from custom_components.evflex.charger.base import ChargerError, SetpointRefused
from custom_components.evflex.charger.modbus.driver import (
    ModbusCharger,
    ModbusRefused,
    ProbeError,
    probe,
)
from custom_components.evflex.charger.modbus.maps import MODELS

from .conftest import LIMITS, Rig


async def test_reads_state(rig: Rig) -> None:
    await rig.driver.async_setup()
    state = await rig.driver.async_read()
    # plugged in, nothing written yet: the charger offers its safe current (6 A)
    assert state.connected is True
    assert state.status == "connected"
    assert not state.charging
    assert state.power_kw == 0
    assert state.energy_kwh == 0
    assert state.setpoint_a == 6
    assert list(state.phase_currents_a) == [0, 0, 0]
    rig.sim.plug(False)
    state = await rig.driver.async_read()
    assert (state.connected, state.status, state.charging) == (False, "disconnected", False)


async def test_limit_written_and_followed(rig: Rig) -> None:
    await rig.driver.async_setup()
    await rig.driver.async_set_current(10)
    assert rig.sim.commanded == 10
    rig.clock.advance(5)
    state = await rig.driver.async_read()
    # the car ramps 0 -> 10 A within the first 1 s step (32 A / 3 s), then draws 10 A
    # on 3 phases: 10 x 230 x 3 = 6900 W; 5 steps of 1 s at 6900 W = 9.5833 Wh
    assert state.status == "charging"
    assert state.setpoint_a == 10
    assert state.power_kw == pytest.approx(6.9)
    assert state.phase_currents_a == pytest.approx((10, 10, 10))
    assert state.energy_kwh == pytest.approx(6900 * 5 / 3600 / 1000, abs=1e-3)
    writes = len(rig.sim.writes)
    await rig.driver.async_set_current(10)  # unchanged: nothing written (flash wear)
    assert len(rig.sim.writes) == writes


async def test_zero_stops_and_six_restarts(rig: Rig) -> None:
    await rig.driver.async_setup()
    await rig.driver.async_set_current(16)
    rig.clock.advance(5)
    assert (await rig.driver.async_read()).charging
    await rig.driver.async_set_current(0)
    rig.clock.advance(2)
    state = await rig.driver.async_read()
    assert (state.charging, state.power_kw, state.status) == (False, 0, "connected")
    assert state.setpoint_a == 0
    await rig.driver.async_set_current(6)
    rig.clock.advance(2)
    state = await rig.driver.async_read()
    assert state.charging
    assert state.power_kw == pytest.approx(6 * 230 * 3 / 1000)  # 4.14 kW


@pytest.mark.parametrize("amps", [-1, 1, 5.9, 16.5, 100])
async def test_setpoints_outside_limits_refused_before_any_write(rig: Rig, amps: float) -> None:
    await rig.driver.async_setup()
    writes = len(rig.sim.writes)
    with pytest.raises(SetpointRefused, match="must be 0 or between 6 and 16 A"):
        await rig.driver.async_set_current(amps)
    assert len(rig.sim.writes) == writes


async def test_watchdog_fed_while_running_and_falls_back_when_stopped(model: str) -> None:
    # Real time here: the simulator's watchdog and the driver's task share the clock.
    sim = SimCharger(model, validity_s=1.0)
    server = SimServer(sim, port=0)
    await server.start()
    driver = ModbusCharger(
        LIMITS, MODELS[model], "127.0.0.1", server.port, timeout_s=1, request_timeout_s=0.5
    )
    try:
        await driver.async_setup()
        await driver.async_set_current(12)
        assert driver.keepalive_s == 0.25
        await asyncio.sleep(3)  # twelve keep-alives, three watchdog periods
        snap = sim.snapshot()
        assert (snap["fallbacks"], snap["offered_a"]) == (0, 12)
        assert driver.counts["keepalives"] >= 8
        # EVFlex dies without a goodbye: the charger falls back on its own
        assert driver._task is not None
        driver._task.cancel()
        driver._disconnect()
        await asyncio.sleep(1.6)
        snap = sim.snapshot()
        assert snap["fallen_back"] is True
        assert snap["offered_a"] == 6
    finally:
        await driver.async_close()
        await server.stop()


async def test_close_leaves_the_safe_current(rig: Rig) -> None:
    await rig.driver.async_setup()
    await rig.driver.async_set_current(16)
    await rig.driver.async_close()
    assert rig.sim.commanded == 6
    assert rig.sim.offered() == 6


async def test_setup_programs_the_fail_safe_once(rig: Rig) -> None:
    await rig.driver.async_setup()
    m = MODELS[rig.sim.model_key]
    programmed = [name for _, name, _ in rig.sim.writes]
    if m.timeout:
        assert rig.sim.timeout_s == 60
        assert rig.sim.safe_current == 6
        assert m.timeout in programmed
    else:  # Alfen: set in the charger, nothing written at set-up
        assert programmed == []
    writes = len(rig.sim.writes)
    await rig.driver._program()
    if m.reg(m.timeout or m.setpoint).readable:  # already right: not written again
        assert len(rig.sim.writes) == writes


async def test_recovers_after_a_reboot(rig: Rig) -> None:
    await rig.driver.async_setup()
    await rig.driver.async_set_current(14)
    rig.clock.advance(3)
    await rig.driver.async_read()
    rig.sim.reboot()  # loses the setpoint, drops the connection
    assert rig.sim.snapshot()["commanded_a"] is None
    state = None
    for _ in range(3):
        try:
            state = await rig.driver.async_read()
            break
        except ChargerError:
            rig.clock.advance(2)  # past the back-off
    assert state is not None
    assert rig.sim.commanded == 14  # re-applied, detected not assumed
    assert rig.driver.counts["reapplied"] == 1
    rig.clock.advance(3)
    assert (await rig.driver.async_read()).setpoint_a == 14


async def test_timeout_is_a_charger_error_then_recovers(rig: Rig) -> None:
    await rig.driver.async_setup()
    rig.sim.faults.delay_s = 1.0  # the driver waits 0.5 s
    with pytest.raises(ChargerError):
        await rig.driver.async_read()
    rig.sim.faults.delay_s = 0
    with pytest.raises(ChargerError, match="next attempt"):  # backing off: no request
        await rig.driver.async_read()
    rig.clock.advance(1.5)
    await asyncio.sleep(0.6)  # the late answer arrives on the closed connection
    state = await rig.driver.async_read()
    assert state.connected is True


async def test_dropped_connection_reconnects(rig: Rig) -> None:
    await rig.driver.async_setup()
    await rig.driver.async_read()
    rig.sim.drop()
    await asyncio.sleep(0.05)
    for _ in range(2):
        try:
            state = await rig.driver.async_read()
            break
        except ChargerError:
            rig.clock.advance(2)
    assert state.connected is True


async def test_exception_codes_are_charger_errors(rig: Rig) -> None:
    await rig.driver.async_setup()
    rig.sim.faults.exception = 4
    with pytest.raises(ModbusRefused) as refused:
        await rig.driver.async_read()
    # pymodbus 3.8's server can only say 0x02 from a datastore; 3.10+ says the code
    assert refused.value.code in (2, 4)
    with pytest.raises(ChargerError):
        await rig.driver.async_set_current(10)
    rig.sim.faults.exception = None
    assert (await rig.driver.async_read()).connected is True


async def test_garbage_values_are_no_reading(rig: Rig) -> None:
    await rig.driver.async_setup()
    rig.sim.faults.garbage = True
    state = await rig.driver.async_read()
    assert state.connected is None
    assert state.status == "unknown"
    assert (state.power_kw, state.energy_kwh, state.setpoint_a) == (None, None, None)
    assert state.phase_currents_a == ()


async def test_unreachable_logged_once_gone_and_once_back(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.driver.async_setup()
    await rig.server.stop()
    caplog.set_level(logging.WARNING, logger="custom_components.evflex.charger.modbus")
    for _ in range(3):
        with pytest.raises(ChargerError):
            await rig.driver.async_read()
        rig.clock.advance(100)
    server = SimServer(rig.sim, port=rig.server.port)
    await server.start()
    rig.server = server
    await rig.driver.async_read()
    await rig.driver.async_read()
    ours = [r.getMessage() for r in caplog.records if "evflex" in r.name]
    assert len([m for m in ours if "does not answer" in m]) == 1
    assert len([m for m in ours if "answers again" in m]) == 1


async def test_phase_switching(rig: Rig) -> None:
    await rig.driver.async_setup()
    await rig.driver.async_set_current(10)
    if MODELS[rig.sim.model_key].phases is None:
        with pytest.raises(ChargerError, match="no 1-phase switching"):
            await rig.driver.async_set_phases(1)
        return
    await rig.driver.async_set_phases(1)
    assert rig.sim.phases == 1
    assert rig.driver.limits.phases == 1
    assert rig.sim.commanded == 10  # resumed after the switch
    rig.clock.advance(3)
    state = await rig.driver.async_read()
    assert state.power_kw == pytest.approx(10 * 230 / 1000)


async def test_diagnostics_name_model_firmware_and_reads(rig: Rig) -> None:
    await rig.driver.async_setup()
    await rig.driver.async_read()
    diag = rig.driver.diagnostics()
    assert diag["model"] == rig.sim.model_key
    assert diag["firmware"] in ("6.4.0-4210", "v3.187.0", "1.8.21")
    assert diag["last_reads"][MODELS[rig.sim.model_key].power] == 0
    assert "host" not in diag


def test_monotonic_default_clock() -> None:
    assert ModbusCharger(LIMITS, MODELS["abb"], "127.0.0.1")._clock is time.monotonic


async def test_probe_names_what_is_wrong(rig: Rig) -> None:
    m = MODELS[rig.sim.model_key]
    assert (await probe(m, "127.0.0.1", rig.server.port, None)).model == m.key
    other = MODELS["abb" if m.key != "abb" else "vestel"]
    with pytest.raises(ProbeError) as wrong:
        await probe(other, "127.0.0.1", rig.server.port, m.default_unit, timeout_s=0.5)
    assert wrong.value.reason == "wrong_model"
    with pytest.raises(ProbeError) as unit:
        await probe(m, "127.0.0.1", rig.server.port, 7, timeout_s=0.5)
    assert unit.value.reason == "wrong_unit_id"
    await rig.server.stop()
    with pytest.raises(ProbeError) as down:
        await probe(m, "127.0.0.1", rig.server.port, None, timeout_s=0.5)
    assert down.value.reason == "cannot_connect"
