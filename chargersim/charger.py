"""A simulated wallbox with a car: what the registers of each model's map read and do.

Time comes from a clock (seconds, any origin): `time.monotonic` for a live simulator,
a test's frozen Home Assistant clock, or a `ManualClock` advanced by hand. Nothing
happens between requests: on each request the simulation catches up with the clock
in steps of at most one second (the car's ramp, the battery, the watchdog), so large
jumps of a frozen clock give the same result as real time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .maps import maps

Clock = Callable[[], float]
STEP_S = 1.0
MIN_A = 6.0  # IEC 61851: no charging below 6 A


class SimFault(Exception):
    """Answer with this Modbus exception code."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(f"exception {code}: {why}")
        self.code = code


class UnknownUnit(Exception):
    """No device at this unit id (a gateway would say 0x0B)."""


class ManualClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Faults:
    delay_s: float = 0.0  # every answer waits this long
    exception: int | None = None  # every request answered with this exception code
    garbage: bool = False  # every register reads 0xFFFF
    offline_until: float = -math.inf  # connections dropped until then (a reboot)


@dataclass
class Event:
    t: float
    what: str


@dataclass
class SimCharger:
    model_key: str
    soc_pct: float = 30.0
    battery_kwh: float = 60.0
    clock: Clock = time.monotonic
    unit: int | None = None
    max_current: float = 32.0  # the charger's (and cable's) limit
    car_max_a: float = 32.0
    car_phases: int = 3
    voltage: float = 230.0
    efficiency: float = 0.9  # grid to battery
    ramp_s: float = 3.0  # 0 -> 32 A takes this long
    validity_s: float = 60.0  # Alfen: set in the charger
    safe_current: float = 6.0  # Alfen: set in the charger; Vestel / ABB: until programmed
    timeout_s: float = 0.0  # Vestel / ABB communication timeout (0: off until programmed)
    plugged: bool = True
    faults: Faults = field(default_factory=Faults)
    on_drop: Callable[[], None] | None = None  # the server's "close every connection"

    def __post_init__(self) -> None:
        self.model = maps.MODELS[self.model_key]
        if self.unit is None:
            self.unit = self.model.default_unit
        self.t = self.clock()
        self.boot_t = self.t
        self.commanded: float | None = None  # the limit written since boot (A)
        self.fed_t = self.t  # the watchdog's last feed
        self.fallen_back = False
        self.fallbacks = 0
        self.phases = 3 if self.model.phases else self.car_phases
        self.draw_a = 0.0
        self.energy_wh = 0.0  # lifetime
        self.session_wh = 0.0
        self.reboots = 0
        self.alive = 0
        self.events: list[Event] = []
        self.requests = 0
        self.writes: list[tuple[float, str, float | str]] = []
        # Vestel's and ABB's fail-safe is programmed over Modbus; Alfen's is fixed
        self.has_timeout = self.model.timeout is not None

    # --- what the car and the charger do --------------------------------------------

    def watchdog_s(self) -> float:
        if self.model.key == "alfen":
            return self.validity_s
        return self.timeout_s

    def offered(self) -> float:
        """The current the charger offers the car now (A); below 6 A: nothing."""
        amps = self.safe_current if self.commanded is None or self.fallen_back else self.commanded
        amps = min(amps, self.max_current)
        return amps if amps >= MIN_A else 0.0

    def _active_phases(self) -> int:
        return min(self.phases, self.car_phases)

    def advance(self) -> None:
        now = self.clock()
        while self.t < now:
            dt = min(STEP_S, now - self.t)
            self._step(dt)
            self.t += dt

    def _step(self, dt: float) -> None:
        limit = self.watchdog_s()
        expired = self.commanded is not None and limit > 0 and self.t + dt - self.fed_t > limit
        if expired and not self.fallen_back:
            self.fallen_back = True
            self.fallbacks += 1
            self._log(f"watchdog: nothing for {limit:g} s, safe current {self.safe_current:g} A")
        wanted = 0.0
        if self.plugged and self.soc_pct < 100:
            wanted = min(self.offered(), self.car_max_a)
        if wanted < self.draw_a:
            self.draw_a = wanted
        elif wanted > self.draw_a:
            rate = self.car_max_a / self.ramp_s if self.ramp_s > 0 else math.inf
            self.draw_a = min(wanted, self.draw_a + rate * dt)
        watts = self.power_w()
        if watts <= 0:
            return
        wh = watts * dt / 3600
        room_wh = (100 - self.soc_pct) / 100 * self.battery_kwh * 1000 / self.efficiency
        wh = min(wh, room_wh)
        self.energy_wh += wh
        self.session_wh += wh
        self.soc_pct = min(100.0, self.soc_pct + wh * self.efficiency / 10 / self.battery_kwh)
        if self.soc_pct >= 100:
            self.draw_a = 0.0
            self._log("battery full")

    def power_w(self) -> float:
        return self.draw_a * self.voltage * self._active_phases() if self.plugged else 0.0

    def _log(self, what: str) -> None:
        self.events.append(Event(self.t, what))
        del self.events[:-200]

    # --- commands (the control endpoint and the tests) -------------------------------

    def plug(self, connected: bool, soc_pct: float | None = None) -> None:
        self.advance()
        if connected and not self.plugged:
            self.session_wh = 0.0
        self.plugged = connected
        if soc_pct is not None:
            self.soc_pct = soc_pct
        self._log("plugged in" if connected else "unplugged")

    def reboot(self, offline_s: float = 0.0) -> None:
        """Restart: the setpoint is lost (settings in flash stay); connections drop."""
        self.advance()
        self.boot_t = self.t
        self.commanded = None
        self.fallen_back = False
        self.draw_a = 0.0
        self.reboots += 1
        self.faults.offline_until = self.t + offline_s
        self._log("rebooted")
        self.drop()

    def drop(self) -> None:
        if self.on_drop is not None:
            self.on_drop()

    def online(self) -> bool:
        return self.clock() >= self.faults.offline_until

    # --- registers -----------------------------------------------------------------------

    def units(self) -> list[int]:
        assert self.unit is not None
        extra = {r.unit for r in self.model.registers.values() if r.unit is not None}
        return sorted({self.unit, *extra})

    def _regs(self, unit: int, table: str) -> list[tuple[str, Any]]:
        if unit not in self.units():
            raise UnknownUnit(unit)
        out = []
        for name, reg in self.model.registers.items():
            if (reg.unit or self.unit) == unit and reg.table.value == table:
                out.append((name, reg))
        return out

    async def read(self, unit: int, table: str, address: int, count: int) -> list[int]:
        await self._answer()
        words = [maps.NO_READING] * count
        hit = False
        for name, reg in self._regs(unit, table):
            if not reg.readable:
                continue
            lo, hi = max(address, reg.address), min(address + count, reg.address + reg.size)
            if lo >= hi:
                continue
            hit = True
            if self.faults.garbage:
                continue
            value = self.value(name)
            raw = [maps.NO_READING] * reg.size if value is None else maps.encode(reg, value)
            words[lo - address : hi - address] = raw[lo - reg.address : hi - reg.address]
        if not hit:
            raise SimFault(2, f"nothing readable at {address}+{count} (unit {unit}, {table})")
        return words

    async def write(self, unit: int, address: int, words: list[int]) -> None:
        await self._answer()
        for name, reg in self._regs(unit, "holding"):
            if reg.address == address:
                if not reg.writable:
                    raise SimFault(2, f"{address} is read-only")
                if len(words) != reg.size:
                    raise SimFault(3, f"{address} takes {reg.size} registers in one request")
                value = maps.decode(reg, words)
                self._written(name, value)
                return
        raise SimFault(2, f"nothing writable at {address} (unit {unit})")

    async def _answer(self) -> None:
        self.requests += 1
        if self.faults.delay_s > 0:
            await asyncio.sleep(self.faults.delay_s)
        self.advance()
        if not self.online():  # restarting: no answer, the connection drops
            self.drop()
            raise SimFault(4, "rebooting")
        if self.faults.exception is not None:
            raise SimFault(self.faults.exception, "told to refuse")

    def _written(self, name: str, value: float | str | None) -> None:
        m = self.model
        self.writes.append((self.t, name, value if value is not None else math.nan))
        del self.writes[:-500]
        if value is None or isinstance(value, str):
            raise SimFault(3, f"{name}: not a number")
        if name == m.setpoint:
            if value < 0 or value > 80:
                raise SimFault(3, f"{name}: {value} A out of range")
            self.commanded = float(value)
            if m.keepalive == "setpoint":
                self._fed()
        elif name == m.keepalive:
            self.alive = int(value)
            self._fed()
        elif name == m.safe_current:
            self.safe_current = float(value)
        elif name == m.timeout:
            self.timeout_s = float(value)
        elif name == m.phases:
            back = {raw: n for n, raw in m.phase_values.items()}
            if int(value) not in back:
                raise SimFault(3, f"{name}: {value} is not a phase setting")
            self.phases = back[int(value)]
            self.draw_a = 0.0  # the car restarts on the new phases
        else:
            raise SimFault(2, f"{name} cannot be written")

    def _fed(self) -> None:
        self.fed_t = self.t
        if self.fallen_back:
            self.fallen_back = False
            self._log("watchdog fed again")

    def mode3(self) -> str:
        if not self.plugged:
            return "A"
        if self.draw_a > 0:
            return "C2"
        return "B2" if self.offered() > 0 else "B1"

    def value(self, name: str) -> float | str | None:
        m = self.model.key
        phases = self._active_phases()
        current = [self.draw_a if i < phases and self.plugged else 0.0 for i in range(3)]
        common: dict[str, float | str | None] = {
            "current_l1": current[0],
            "current_l2": current[1],
            "current_l3": current[2],
            "voltage_l1": self.voltage,
            "voltage_l2": self.voltage,
            "voltage_l3": self.voltage,
            "power_w": self.power_w(),
        }
        if name in common:
            return common[name]
        table: dict[str, float | str | None]
        if m == "alfen":
            left = max(0.0, self.validity_s - (self.t - self.fed_t))
            table = {
                "manufacturer": "Alfen NV",
                "firmware": "6.4.0-4210",
                "platform": "NG910",
                "uptime": self.t - self.boot_t,
                "energy_wh": self.energy_wh,
                "availability": 1,
                "mode3": self.mode3(),
                "applied_a": self.offered(),
                "valid_s": 0 if self.commanded is None else int(left),
                "max_current_a": self.commanded,
                "safe_a": self.safe_current,
                "accounted": 0 if self.commanded is None or self.fallen_back else 1,
                "phases": self.phases,
            }
        elif m == "vestel":
            table = {
                "serial": "SIM-EVC04-0001",
                "brand": "Vestel",
                "model": "EVC04",
                "firmware": "v3.187.0",
                "phase_hw": 1,
                "phases": self.model.phase_values[self.phases],
                "charging_state": 1 if self.draw_a > 0 else 0,
                "equipment_state": 1,
                "cable_state": 3 if self.plugged else 0,
                "meter_kwh": self.energy_wh / 1000,
                "energy_wh": self.session_wh,
                "failsafe_a": self.safe_current,
                "failsafe_s": self.timeout_s,
                "current_a": self.offered(),
                "alive": self.alive,
            }
        else:
            state = 0 if not self.plugged else 4 if self.draw_a > 0 else 2 if self.offered() else 1
            table = {
                "serial": 0x0000_1234_5678_9ABC,
                "firmware": int.from_bytes(bytes([1, 8, 21, 0]), "big"),
                "max_rated_a": self.max_current,
                "error": 0,
                "socket": 0x0111 if self.plugged else 0x0000,
                "state": state,
                "limit_a": self.offered(),
                "energy_wh": self.session_wh,
                "timeout_read_s": self.timeout_s,
            }
        return table.get(name)

    def snapshot(self) -> dict[str, Any]:
        self.advance()
        return {
            "model": self.model_key,
            "time": round(self.t, 3),
            "plugged": self.plugged,
            "soc_pct": round(self.soc_pct, 3),
            "battery_kwh": self.battery_kwh,
            "commanded_a": self.commanded,
            "offered_a": self.offered(),
            "draw_a": round(self.draw_a, 3),
            "phases": self._active_phases(),
            "power_w": round(self.power_w(), 1),
            "energy_wh": round(self.energy_wh, 3),
            "session_wh": round(self.session_wh, 3),
            "safe_current_a": self.safe_current,
            "watchdog_s": self.watchdog_s(),
            "fallen_back": self.fallen_back,
            "fallbacks": self.fallbacks,
            "reboots": self.reboots,
            "requests": self.requests,
            "faults": {
                "delay_s": self.faults.delay_s,
                "exception": self.faults.exception,
                "garbage": self.faults.garbage,
                "offline": not self.online(),
            },
            "events": [{"t": round(e.t, 3), "what": e.what} for e in self.events[-10:]],
        }
