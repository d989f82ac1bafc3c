"""The simulator on the wire: a pymodbus TCP server in front of a `SimCharger`.

pymodbus changed its server datastore between the versions Home Assistant pins:
3.8 asks a per-unit "slave context" (`validate`, `async_getValues(fc, ...)`), 3.10+
asks the server context itself (`async_getValues(device_id, fc, ...)`, which may
answer an exception code). One adapter per API; the simulated charger behind them
is the same. (pymodbus 4's SimData / SimDevice is static data: a charger whose
registers change with every request needs the callable datastore.)
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

from pymodbus.server import ModbusTcpServer

from .charger import SimCharger, SimFault, UnknownUnit

# Typed as Any: the two pymodbus APIs name different classes.
datastore: Any = importlib.import_module("pymodbus.datastore")
NEW_API = hasattr(datastore, "ModbusDeviceContext")  # pymodbus >= 3.10
READS = {3: "holding", 4: "input"}


def _context(sim: SimCharger) -> Any:
    echo: dict[tuple[int, int], list[int]] = {}  # what a write answers with
    if NEW_API:
        exc_codes: Any = importlib.import_module("pymodbus.constants").ExcCodes
        no_such_id: Any = importlib.import_module("pymodbus.exceptions").NoSuchIdException

        class Context(datastore.ModbusServerContext):  # type: ignore[misc]
            def __init__(self) -> None:  # no super(): no static devices, no warning
                self.simdevices: list[Any] = []
                self._devices: dict[int, Any] = {}

            async def async_getValues(
                self, device_id: int, func_code: int, address: int, count: int = 1
            ) -> Any:
                if func_code not in READS:  # the echo of a write
                    return echo.get((device_id, address), [0] * count)[:count]
                try:
                    return await sim.read(
                        device_id, READS.get(func_code, "holding"), address, count
                    )
                except UnknownUnit as err:
                    raise no_such_id(str(err)) from err
                except SimFault as err:
                    return exc_codes(err.code)

            async def async_setValues(
                self, device_id: int, func_code: int, address: int, values: list[Any]
            ) -> Any:
                try:
                    await sim.write(device_id, address, [int(v) for v in values])
                    echo[(device_id, address)] = [int(v) for v in values]
                except UnknownUnit as err:
                    raise no_such_id(str(err)) from err
                except SimFault as err:
                    return exc_codes(err.code)
                return None

            def device_ids(self) -> list[int]:
                return sim.units()

        return Context()

    class Unit(datastore.ModbusBaseSlaveContext):  # type: ignore[misc]
        """pymodbus 3.8: illegal address through validate(), other codes as 0x04."""

        def __init__(self, unit: int) -> None:
            self.unit = unit
            self.pending: SimFault | None = None

        def reset(self) -> None:
            pass

        def validate(self, fx: int, address: int, count: int = 1) -> bool:
            if sim.faults.exception is not None:
                return False  # 3.8 answers a raised error undecodably: every code is 0x02
            table = READS.get(fx, "holding")
            regs = [r for _, r in sim._regs(self.unit, table)]
            if fx in READS:
                return any(
                    r.readable and r.address < address + count and address < r.address + r.size
                    for r in regs
                )
            return any(r.address == address and r.writable and r.size == count for r in regs)

        async def async_getValues(self, fc_as_hex: int, address: int, count: int = 1) -> list[int]:
            if fc_as_hex not in READS:  # the echo of a write
                return echo.get((self.unit, address), [0] * count)[:count]
            return await sim.read(self.unit, READS[fc_as_hex], address, count)

        async def async_setValues(self, fc_as_hex: int, address: int, values: list[Any]) -> None:
            if fc_as_hex in READS:
                return
            await sim.write(self.unit, address, [int(v) for v in values])
            echo[(self.unit, address)] = [int(v) for v in values]

    return datastore.ModbusServerContext(
        slaves={u: Unit(u) for u in sim.units()},  # pymodbus 3.8's name
        single=False,
    )


class SimServer:
    """Serve `sim` on host:port (port 0: any free port, see `.port`)."""

    def __init__(self, sim: SimCharger, host: str = "127.0.0.1", port: int = 502) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self._server: ModbusTcpServer | None = None
        sim.on_drop = self.drop_connections

    async def start(self) -> None:
        # An unknown unit id gets no answer (3.8 would send an undecodable one): the
        # master times out, as behind many real gateways.
        quiet: dict[str, Any] = {
            "ignore_missing_devices" if NEW_API else "ignore_missing_slaves": True
        }
        self._server = ModbusTcpServer(_context(self.sim), address=(self.host, self.port), **quiet)
        await self._server.serve_forever(background=True)
        transport: Any = self._server.transport
        if transport is not None and getattr(transport, "sockets", None):
            self.port = transport.sockets[0].getsockname()[1]

    def drop_connections(self) -> None:
        if self._server is None:
            return
        for handler in list(self._server.active_connections.values()):
            with contextlib.suppress(Exception):
                transport: Any = handler.transport
                if transport is not None:
                    transport.abort()
                handler.close()

    async def stop(self) -> None:
        if self._server is not None:
            self.drop_connections()
            server: Any = self._server
            await server.shutdown()
            self._server = None
