"""One generic Modbus TCP charger driver: reads and writes whatever a `ChargerModel` maps.

- Reads the Mode-3 state, power, per-phase currents, the energy counter and the limit
  the charger applies; 0xFFFF / NaN registers are no reading (None).
- Writes the current limit (0, or min..max, checked before any write) only when it
  changes, or as the watchdog needs: its own task feeds the charger at a quarter of
  the communication timeout (re-writing the limit, or the model's alive register).
- At setup programs the safe current and the communication timeout where the model
  has them (only if they differ: chargers keep them in flash).
- Detects a reboot (uptime restarts, or the limit read back is not the one written)
  and re-applies the setup and the limit.
- Unreachable: ChargerError at once, reconnect with back-off (1 s doubling to 60 s),
  one warning when the charger goes and one line when it returns.
- Closing stops the task and writes the safe current, so the charger is left at its
  documented fallback (and falls back on its own when the watchdog runs out).

Works with pymodbus 3.8 (`slave=`) and 3.10+ (`device_id=`): Home Assistant pins
3.8.3 in 2025.4 and 3.13.1 in 2026.10.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from ..base import ChargerDriver, ChargerError, ChargerLimits, ChargerState
from .maps import ChargerModel, Register, Table, abb_firmware, decode, encode

_LOGGER = logging.getLogger(__name__)

# pymodbus renamed the unit argument: slave= (<= 3.9) became device_id= (3.10+).
UNIT_KW = (
    "device_id"
    if "device_id" in inspect.signature(AsyncModbusTcpClient.read_holding_registers).parameters
    else "slave"
)
GATEWAY_CODES = (0x0A, 0x0B)  # "gateway path unavailable", "target device failed to respond"
BACKOFF_MIN_S, BACKOFF_MAX_S = 1.0, 60.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class ModbusRefused(ChargerError):
    """The charger answered with a Modbus exception code."""

    def __init__(self, code: int, what: str) -> None:
        super().__init__(f"{what}: Modbus exception code {code}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Identity:
    model: str
    firmware: str | None
    name: str | None


class ProbeError(ChargerError):
    """Why a charger was not identified: cannot_connect | wrong_unit_id | wrong_model."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def blocks(
    model: ChargerModel, names: list[str], unit: int
) -> list[tuple[int, Table, int, int, list[str]]]:
    """Group registers into read requests: (unit, table, start, count, names)."""
    keyed = sorted(
        (model.unit_of(n, unit), model.reg(n).table.value, model.reg(n).address, n) for n in names
    )
    out: list[tuple[int, Table, int, int, list[str]]] = []
    for u, table, address, name in keyed:
        reg = model.reg(name)
        if out:
            pu, pt, start, count, members = out[-1]
            end = start + count
            if (
                pu == u
                and pt.value == table
                and address - end <= model.block_gap
                and address + reg.size - start <= 100
            ):
                new_end = max(end, address + reg.size)
                out[-1] = (pu, pt, start, new_end - start, [*members, name])
                continue
        out.append((u, Table(table), address, reg.size, [name]))
    return out


class ModbusCharger(ChargerDriver):
    def __init__(
        self,
        limits: ChargerLimits,
        model: ChargerModel,
        host: str,
        port: int = 502,
        unit: int | None = None,
        *,
        safe_current: float | None = None,
        timeout_s: float | None = None,
        request_timeout_s: float = 3.0,
        phase_pause_s: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(limits)
        self.model = model
        self.host = host
        self.port = port
        self.unit = model.default_unit if unit is None else unit
        self.safe_current = limits.min_current if safe_current is None else safe_current
        self.timeout_s = model.timeout_s if timeout_s is None else timeout_s
        self.request_timeout_s = request_timeout_s
        self.phase_pause_s = model.phase_pause_s if phase_pause_s is None else phase_pause_s
        self._clock = clock
        self._sleep = sleep
        self._client: AsyncModbusTcpClient | None = None
        self._lost: asyncio.Future[None] | None = None  # fails when the connection drops
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._online: bool | None = None
        self._tcp_ok = False  # a TCP connection was made at least once
        self._backoff = 0.0
        self._retry_at = 0.0
        self._target: float | None = None  # the limit EVFlex wants (A)
        self._written_at: float | None = None  # clock time of the last limit write
        self._reapplied_at: float | None = None
        self._programmed = False
        self._uptime: float | None = None
        self._validity_seen: float | None = None
        self.identity: Identity | None = None
        self.last_reads: dict[str, Any] = {}
        self.last_error: str | None = None
        self.counts = {"reads": 0, "writes": 0, "keepalives": 0, "reboots": 0, "reapplied": 0}

    # --- the interface ---------------------------------------------------------

    @property
    def keepalive_s(self) -> float:
        """How often the watchdog is fed: a quarter of the timeout, at least 0.25 s."""
        timeout = self.timeout_s
        if self._validity_seen:
            timeout = min(timeout, self._validity_seen)
        return max(0.25, timeout / 4)

    async def async_setup(self) -> None:
        """Connect, identify, program the fail-safe; then feed the watchdog from a task.

        An unreachable charger does not fail the set-up: the task keeps trying (with
        back-off) and reads raise ChargerError until it answers.
        """
        try:
            await self._identify()
            await self._program()
        except ChargerError as err:
            _LOGGER.debug("set-up of %s postponed: %s", self.model.title, err)
        if self._task is None:
            self._task = asyncio.create_task(self._watchdog(), name="evflex modbus keep-alive")

    async def async_read(self) -> ChargerState:
        m = self.model
        names = [n for n, _, _ in m.status_rules]
        names += [m.power, *m.currents, m.energy, m.applied, m.echo]
        if m.uptime:
            names.append(m.uptime)
        if "valid_s" in m.registers:
            names.append("valid_s")
        values = await self._read(list(dict.fromkeys(names)))
        self.counts["reads"] += 1
        await self._check_reboot(values)
        if values.get("valid_s"):
            self._validity_seen = max(self._validity_seen or 0.0, float(values["valid_s"] or 0))
        status = m.status(values)
        connected = {"disconnected": False, "connected": True, "charging": True}.get(status)
        power = _number(values.get(m.power))
        energy = _number(values.get(m.energy))
        currents = tuple(c for c in (_number(values.get(n)) for n in m.currents) if c is not None)
        return ChargerState(
            connected=connected,
            charging=status == "charging",
            power_kw=None if power is None else power / 1000,
            energy_kwh=None if energy is None else energy / 1000,
            setpoint_a=_number(values.get(m.applied)),
            enabled=None,
            status=status,
            phase_currents_a=currents,
        )

    async def async_set_current(self, amps: float) -> None:
        self.limits.check(amps)  # SetpointRefused before anything is written
        if amps == self._target and self._written_at is not None:
            return  # unchanged: the keep-alive task re-writes it when the model needs that
        await self._write_limit(amps)
        self._target = amps

    async def async_set_phases(self, phases: int) -> None:
        """Switch between 1 and 3 phases: stop, wait, switch, wait, resume."""
        m = self.model
        if m.phases is None or phases not in m.phase_values:
            raise ChargerError(f"{m.title}: no {phases}-phase switching over Modbus")
        if m.phase_capable:
            name, raw = m.phase_capable
            capable = (await self._read([name])).get(name)
            if capable is None or int(capable) != raw:
                raise ChargerError(f"{m.title}: this charger cannot switch phases")
        target = self._target
        await self._write_limit(0.0)
        await self._sleep(self.phase_pause_s)
        await self._write(m.phases, float(m.phase_values[phases]))
        self.limits = replace(self.limits, phases=phases)
        await self._sleep(self.phase_pause_s)
        if target:
            await self._write_limit(target)

    async def async_close(self) -> None:
        """Stop feeding the watchdog and leave the charger at the safe current."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._online and self._client is not None:
            with contextlib.suppress(ChargerError):
                await self._write_limit(self.safe_current)
        self._disconnect()

    def diagnostics(self) -> dict[str, Any]:
        return {
            "model": self.model.key,
            "title": self.model.title,
            "unit": self.unit,
            "port": self.port,
            "firmware": self.identity.firmware if self.identity else None,
            "name": self.identity.name if self.identity else None,
            "online": self._online,
            "last_error": self.last_error,
            "target_a": self._target,
            "safe_current_a": self.safe_current,
            "timeout_s": self.timeout_s,
            "keepalive_s": self.keepalive_s,
            "counts": dict(self.counts),
            "last_reads": dict(self.last_reads),
        }

    # --- identification and fail-safe --------------------------------------------

    async def _identify(self) -> Identity:
        m = self.model
        try:
            probe = await self._read([m.probe])
        except ModbusRefused as err:
            reason = "wrong_unit_id" if err.code in GATEWAY_CODES else "wrong_model"
            raise ProbeError(reason, str(err)) from err
        except ChargerError as err:
            # TCP connected, but nothing answered at this unit id
            reason = "wrong_unit_id" if self._tcp_ok else "cannot_connect"
            raise ProbeError(reason, str(err)) from err
        if probe.get(m.probe) is None:
            raise ProbeError("wrong_model", f"{m.title}: register {m.reg(m.probe).address} empty")
        name_reg, prefix = m.identity
        try:
            wanted = [name_reg] + ([m.firmware] if m.firmware else [])
            info = await self._read(list(dict.fromkeys(wanted)))
        except ModbusRefused as err:
            raise ProbeError("wrong_model", str(err)) from err
        name = info.get(name_reg)
        if name is None or (isinstance(name, str) and not name.startswith(prefix)) or name == 0:
            raise ProbeError("wrong_model", f"{m.title}: {name_reg} reads {name!r}")
        firmware = info.get(m.firmware) if m.firmware else None
        if m.key == "abb":
            firmware = abb_firmware(firmware)
        self.identity = Identity(
            model=m.key,
            firmware=None if firmware is None else str(firmware),
            name=name if isinstance(name, str) else None,
        )
        return self.identity

    async def _program(self) -> None:
        """Program the safe current and the timeout, only where they differ (flash)."""
        m = self.model
        wanted = {}
        if m.safe_current:
            wanted[m.safe_current] = float(self.safe_current)
        if m.timeout:
            wanted[m.timeout] = float(round(self.timeout_s))
        readable = [n for n in wanted if m.reg(n).readable]
        now = await self._read(readable) if readable else {}
        for name, value in wanted.items():
            if name in now and now[name] is not None and abs(float(now[name]) - value) < 0.01:
                continue
            await self._write(name, value)
        self._programmed = True

    async def _check_reboot(self, values: dict[str, Any]) -> None:
        m = self.model
        rebooted = False
        if m.uptime and (uptime := _number(values.get(m.uptime))) is not None:
            rebooted = self._uptime is not None and uptime + 1 < self._uptime
            self._uptime = uptime
        echo = _number(values.get(m.echo))
        lost = (
            self._target is not None
            and self._written_at is not None
            and (echo is None or abs(echo - self._target) > 0.5)
        )
        if not (rebooted or lost or not self._programmed):
            return
        now = self._clock()
        if (
            not rebooted
            and self._reapplied_at is not None
            and now - self._reapplied_at < self.keepalive_s
        ):
            return  # re-applied moments ago: the charger may just be slow to show it
        self._reapplied_at = now
        if rebooted:
            self.counts["reboots"] += 1
            _LOGGER.info("%s at %s restarted: re-applying EVFlex's settings", m.title, self.host)
        elif lost:
            _LOGGER.info(
                "%s at %s reads back %s A, not the %s A written: re-applying",
                m.title,
                self.host,
                echo,
                self._target,
            )
        await self._program()
        if self._target is not None and (rebooted or lost):
            self.counts["reapplied"] += 1
            await self._write_limit(self._target)

    # --- the watchdog task -------------------------------------------------------

    async def _watchdog(self) -> None:
        while True:
            await self._sleep(self.keepalive_s)
            try:
                await self._feed()
            except ChargerError as err:
                _LOGGER.debug("keep-alive for %s failed: %s", self.model.title, err)

    async def _feed(self) -> None:
        m = self.model
        if not self._programmed:
            if self.identity is None:
                await self._identify()
            await self._program()
        if m.keepalive == "setpoint":
            if self._target is not None:
                await self._write_limit(self._target)
                self.counts["keepalives"] += 1
        else:
            await self._write(m.keepalive, 1.0)
            self.counts["keepalives"] += 1

    async def _write_limit(self, amps: float) -> None:
        await self._write(self.model.setpoint, amps)
        self._written_at = self._clock()

    # --- Modbus requests -------------------------------------------------------------

    async def _connect(self) -> AsyncModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        now = self._clock()
        if self._online is False and now < self._retry_at:
            raise ChargerError(
                f"{self.model.title} at {self.host}:{self.port} unreachable "
                f"(next attempt in {self._retry_at - now:.0f} s)"
            )
        self._disconnect()
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def link(up: bool) -> None:
            if not up and not lost.done():
                lost.set_exception(ConnectionError("the charger closed the connection"))

        client = AsyncModbusTcpClient(
            self.host,
            port=self.port,
            timeout=self.request_timeout_s,
            retries=0,
            reconnect_delay=0,  # EVFlex reconnects, with its own back-off
            trace_connect=link,
        )
        try:
            ok = await asyncio.wait_for(_open(client), self.request_timeout_s + 1)
        except (TimeoutError, OSError, ModbusException) as err:
            client.close()
            self._failed(err)
        if not ok:
            client.close()
            self._failed(ConnectionError("connection refused or timed out"))
        self._client = client
        self._lost = lost
        self._tcp_ok = True
        return client

    def _disconnect(self) -> None:
        if self._lost is not None:
            if not self._lost.done():
                self._lost.cancel()
            elif not self._lost.cancelled():
                self._lost.exception()  # seen: a drop while idle is no unhandled error
            self._lost = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _failed(self, err: BaseException) -> NoReturn:
        """The charger did not answer: back off, log once, raise ChargerError."""
        self._disconnect()
        self._backoff = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, self._backoff * 2))
        self._retry_at = self._clock() + self._backoff
        self.last_error = f"{type(err).__name__}: {err}"
        if self._online is not False:
            _LOGGER.warning(
                "%s at %s:%s does not answer (%s); retrying",
                self.model.title,
                self.host,
                self.port,
                self.last_error,
            )
        self._online = False
        self._programmed = False if self.model.timeout is None else self._programmed
        raise ChargerError(f"{self.model.title} at {self.host}:{self.port}: {self.last_error}")

    def _answered(self) -> None:
        if self._online is False:
            _LOGGER.warning("%s at %s:%s answers again", self.model.title, self.host, self.port)
        self._online = True
        self._backoff = 0.0

    async def _request(
        self, what: str, call: Callable[[AsyncModbusTcpClient], Awaitable[Any]]
    ) -> Any:
        async with self._lock:
            client = await self._connect()
            try:
                response = await self._answer(call(client))
            except (TimeoutError, OSError, ModbusException) as err:
                self._failed(err)
            self._answered()
            if response.isError():
                code = int(getattr(response, "exception_code", 0) or 0)
                self.last_error = f"{what}: exception code {code}"
                raise ModbusRefused(code, f"{self.model.title} {what}")
            return response

    async def _answer(self, request: Awaitable[Any]) -> Any:
        """The answer to `request`, or at once ConnectionError when the connection drops
        (pymodbus 3.8 would wait out its timeout on a dead link), or TimeoutError."""
        pending = asyncio.ensure_future(request)
        lost = self._lost
        waiting: set[asyncio.Future[Any]] = {pending} if lost is None else {pending, lost}
        done, _ = await asyncio.wait(
            waiting, timeout=self.request_timeout_s + 1, return_when=asyncio.FIRST_COMPLETED
        )
        if pending in done:
            return pending.result()
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pending
        if lost is not None and lost in done:
            lost.result()  # raises the ConnectionError
        raise TimeoutError(f"no answer in {self.request_timeout_s + 1:.1f} s")

    async def _read(self, names: list[str]) -> dict[str, Any]:
        m = self.model
        out: dict[str, Any] = {}
        for unit, table, start, count, members in blocks(m, names, self.unit):
            kwargs: dict[str, Any] = {"count": count, UNIT_KW: unit}

            async def call(
                c: AsyncModbusTcpClient, t: Table = table, a: int = start, k: Any = kwargs
            ) -> Any:
                if t is Table.INPUT:
                    return await c.read_input_registers(a, **k)
                return await c.read_holding_registers(a, **k)

            response = await self._request(f"read {start}+{count}", call)
            words = list(response.registers)
            if len(words) != count:
                raise ChargerError(f"{m.title}: {len(words)} registers for {count} asked")
            for name in members:
                reg = m.reg(name)
                offset = reg.address - start
                value = decode(reg, words[offset : offset + reg.size])
                out[name] = value
                self.last_reads[name] = value
        return out

    async def _write(self, name: str, value: float) -> None:
        reg: Register = self.model.reg(name)
        words = encode(reg, value)
        unit = self.model.unit_of(name, self.unit)
        kwargs: dict[str, Any] = {UNIT_KW: unit}

        async def call(c: AsyncModbusTcpClient) -> Any:
            if len(words) == 1:
                return await c.write_register(reg.address, words[0], **kwargs)
            # multi-register values go in one request (Alfen refuses split writes)
            return await c.write_registers(reg.address, words, **kwargs)

        await self._request(f"write {reg.address}", call)
        self.counts["writes"] += 1


async def _open(client: AsyncModbusTcpClient) -> bool:
    """Open the TCP connection. pymodbus's `connect()` then sleeps 0.1 s of loop time
    (3.8.3 and 3.13.1, the versions Home Assistant pins; gone in 3.16), for nothing a
    Modbus TCP master needs: every reconnect would wait on the event loop's clock, and
    on a loop whose clock stands still (a frozen test clock) never return. Its
    transport's own connect is the same without the sleep; the public call stays the
    fallback."""
    transport: Any = getattr(client, "ctx", None)
    if transport is None or not hasattr(transport, "connect"):
        return bool(await client.connect())
    if hasattr(transport, "reset_delay"):
        transport.reset_delay()
    return bool(await transport.connect())


def _number(value: Any) -> float | None:
    return None if value is None or isinstance(value, str) else float(value)


async def probe(
    model: ChargerModel, host: str, port: int, unit: int | None, timeout_s: float = 5.0
) -> Identity:
    """Connect and identify: ProbeError(cannot_connect | wrong_unit_id | wrong_model)."""
    limits = ChargerLimits(phases=1, voltage=230, min_current=6, max_current=16)
    driver = ModbusCharger(limits, model, host, port, unit, request_timeout_s=timeout_s)
    try:
        try:
            await driver._connect()
        except ChargerError as err:
            raise ProbeError("cannot_connect", str(err)) from err
        return await driver._identify()
    finally:
        driver._disconnect()
