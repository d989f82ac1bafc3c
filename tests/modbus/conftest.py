"""A simulated charger served over real TCP on 127.0.0.1, and the driver talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_socket

from chargersim.charger import ManualClock, SimCharger
from chargersim.server import SimServer
from custom_components.evflex.charger.base import ChargerLimits
from custom_components.evflex.charger.modbus.driver import ModbusCharger
from custom_components.evflex.charger.modbus.maps import MODELS


@pytest.fixture(autouse=True)
def loopback() -> None:
    """The HA test plugin blocks sockets for every test; these need 127.0.0.1 only."""
    pytest_socket.enable_socket()
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)


LIMITS = ChargerLimits(phases=3, voltage=230, min_current=6, max_current=16)


@dataclass
class Rig:
    sim: SimCharger
    server: SimServer
    driver: ModbusCharger
    clock: ManualClock


@pytest.fixture(params=sorted(MODELS))
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def rig(model: str, loopback: None) -> AsyncIterator[Rig]:
    """Simulator and driver on one manual clock (time moves only when a test says)."""
    clock = ManualClock(1000.0)
    sim = SimCharger(model, clock=clock)
    server = SimServer(sim, port=0)
    await server.start()
    driver = ModbusCharger(
        LIMITS,
        MODELS[model],
        "127.0.0.1",
        server.port,
        timeout_s=60,
        request_timeout_s=0.5,
        phase_pause_s=0,
        clock=clock,
    )
    yield Rig(sim, server, driver, clock)
    await driver.async_close()
    await server.stop()
