"""Modbus TCP register maps of real chargers, as data: one table per model.

A table lists each register EVFlex uses (address, type, scale, access, meaning),
which registers say the charger's state, where the current limit is written and
read back, and how the charger's watchdog is fed. The driver
(`driver.py`) and the simulator (`chargersim`) both read these tables, so adding a
model is adding a table and a test.

This module imports nothing from Home Assistant nor pymodbus (the simulator loads it
on its own), and no other module of the integration.

Sources (facts only): Alfen "Implementation of Modbus Slave TCP/IP for Alfen NG9xx
platform" v2.3; Vestel EVC04 / Webasto Unite register list as used by evcc and the
community; ABB "Terra AC charger Modbus communication" v1.11 as transcribed by evcc.
Registers marked `verified=False` are documented but not confirmed on hardware.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    U64 = "u64"
    F32 = "f32"
    F64 = "f64"
    STR = "str"


class Table(StrEnum):
    HOLDING = "holding"  # function 03 (read), 06 / 16 (write)
    INPUT = "input"  # function 04 (read only)


WORDS = {Kind.U16: 1, Kind.S16: 1, Kind.U32: 2, Kind.U64: 4, Kind.F32: 2, Kind.F64: 4}
NO_READING = 0xFFFF  # what an unavailable 16-bit register reads (every word of it)


@dataclass(frozen=True, slots=True)
class Register:
    address: int
    kind: Kind
    access: str  # R | W | RW
    meaning: str
    scale: float = 1.0  # value = raw x scale (mA -> A: 0.001)
    words: int = 0  # registers of a string (others: from the kind)
    table: Table = Table.HOLDING
    unit: int | None = None  # a unit id other than the model's (Alfen's station: 200)
    shift: int = 0  # a value packed in part of the raw number: (raw >> shift) & mask
    mask: int | None = None
    verified: bool = True

    @property
    def size(self) -> int:
        return self.words if self.kind is Kind.STR else WORDS[self.kind]

    @property
    def readable(self) -> bool:
        return "R" in self.access

    @property
    def writable(self) -> bool:
        return "W" in self.access


def decode(reg: Register, words: list[int]) -> float | str | None:
    """The value of `reg` from its raw words; None when the charger has no reading.

    All-0xFFFF words (Alfen's "reserved or unavailable") and NaN are no reading.
    """
    if len(words) != reg.size:
        raise ValueError(f"register {reg.address}: expected {reg.size} words, got {len(words)}")
    if all(w == NO_READING for w in words):
        return None
    raw = b"".join(struct.pack(">H", w & 0xFFFF) for w in words)
    if reg.kind is Kind.STR:
        return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()
    number: float
    match reg.kind:
        case Kind.U16:
            number = struct.unpack(">H", raw)[0]
        case Kind.S16:
            number = struct.unpack(">h", raw)[0]
        case Kind.U32:
            number = struct.unpack(">I", raw)[0]
        case Kind.U64:
            number = struct.unpack(">Q", raw)[0]
        case Kind.F32:
            number = struct.unpack(">f", raw)[0]
        case Kind.F64:
            number = struct.unpack(">d", raw)[0]
    if math.isnan(number) or math.isinf(number):
        return None
    if reg.mask is not None:
        number = (int(number) >> reg.shift) & reg.mask
    return number * reg.scale if reg.scale != 1.0 else number


def encode(reg: Register, value: float | str) -> list[int]:
    """The raw words for `value` (in the register's unit, before scaling)."""
    if reg.kind is Kind.STR:
        data = str(value).encode("ascii")[: reg.size * 2].ljust(reg.size * 2, b"\x00")
    else:
        number = float(value) / reg.scale
        if reg.mask is not None:
            number = (round(number) & reg.mask) << reg.shift
        fmt = {
            Kind.U16: ">H",
            Kind.S16: ">h",
            Kind.U32: ">I",
            Kind.U64: ">Q",
            Kind.F32: ">f",
            Kind.F64: ">d",
        }[reg.kind]
        if reg.kind in (Kind.F32, Kind.F64):
            data = struct.pack(fmt, number)
        else:
            data = struct.pack(fmt, round(number))
    return [struct.unpack(">H", data[i : i + 2])[0] for i in range(0, len(data), 2)]


# A state rule: (register name, values, status). The first rule whose register holds
# one of the values gives the status: disconnected | connected | charging | error.
Rule = tuple[str, frozenset[int | str], str]


@dataclass(frozen=True, slots=True)
class ChargerModel:
    key: str
    title: str
    default_unit: int
    registers: dict[str, Register]
    status_rules: tuple[Rule, ...]
    setpoint: str  # the register the current limit is written to
    applied: str  # the limit the charger applies now (read back into ChargerState)
    echo: str  # read back after a write: differs after a reboot (then re-applied)
    identity: tuple[str, str]  # (register, text it starts with) that names the model
    keepalive: str  # "setpoint": re-write the limit; otherwise the register written 1
    timeout_s: float  # the communication timeout EVFlex programs (or the charger's default)
    probe: str  # read first at the configured unit: does this unit answer this map?
    block_gap: int = 0  # read neighbours in one request across gaps up to this (0: none)
    power: str = "power_w"
    currents: tuple[str, ...] = ("current_l1", "current_l2", "current_l3")
    energy: str = "energy_wh"
    firmware: str | None = None
    uptime: str | None = None  # a counter that restarts with the charger
    safe_current: str | None = None  # where EVFlex programs the safe current (A)
    timeout: str | None = None  # where EVFlex programs the communication timeout (s)
    phases: str | None = None  # 1/3-phase switch register
    phase_values: dict[int, int] = field(default_factory=dict)  # phases -> raw
    phase_capable: tuple[str, int] | None = None  # (register, raw) that allows switching
    phase_pause_s: float = 0.0  # charging paused this long around a phase switch
    notes: str = ""

    def reg(self, name: str) -> Register:
        return self.registers[name]

    def unit_of(self, name: str, unit: int) -> int:
        return self.registers[name].unit or unit

    def status(self, values: dict[str, float | str | None]) -> str:
        for name, accepted, status in self.status_rules:
            value = values.get(name)
            if value is None:
                continue
            key: int | str = value if isinstance(value, str) else int(value)
            if key in accepted:
                return status
        return "unknown"


def _f(*values: int | str) -> frozenset[int | str]:
    return frozenset(values)


INP = Table.INPUT

ALFEN = ChargerModel(
    key="alfen",
    title="Alfen Eve (NG9xx)",
    default_unit=1,  # socket 1; station registers answer at unit 200
    registers={
        "manufacturer": Register(117, Kind.STR, "R", "Manufacturer", words=5, unit=200),
        "firmware": Register(123, Kind.STR, "R", "Firmware version", words=17, unit=200),
        "platform": Register(140, Kind.STR, "R", "Platform type (NG910...)", words=17, unit=200),
        "uptime": Register(174, Kind.U64, "R", "Uptime (ms)", scale=0.001, unit=200),
        "voltage_l1": Register(306, Kind.F32, "R", "Voltage L1-N (V)"),
        "voltage_l2": Register(308, Kind.F32, "R", "Voltage L2-N (V)"),
        "voltage_l3": Register(310, Kind.F32, "R", "Voltage L3-N (V)"),
        "current_l1": Register(320, Kind.F32, "R", "Current L1 (A)"),
        "current_l2": Register(322, Kind.F32, "R", "Current L2 (A)"),
        "current_l3": Register(324, Kind.F32, "R", "Current L3 (A)"),
        "power_w": Register(344, Kind.F32, "R", "Real power sum (W)"),
        "energy_wh": Register(374, Kind.F64, "R", "Real energy delivered sum (Wh)"),
        "availability": Register(1200, Kind.U16, "R", "Availability (1 operative)"),
        "mode3": Register(1201, Kind.STR, "R", "Mode-3 state (IEC 61851)", words=5),
        "applied_a": Register(1206, Kind.F32, "R", "Actual applied max current (A)"),
        "valid_s": Register(1208, Kind.U32, "R", "Setpoint validity left (s)"),
        "max_current_a": Register(1210, Kind.F32, "RW", "Modbus slave max current (A)"),
        "safe_a": Register(1212, Kind.F32, "R", "Active load balancing safe current (A)"),
        "accounted": Register(1214, Kind.U16, "R", "Setpoint accounted for (1 yes)"),
        "phases": Register(1215, Kind.U16, "RW", "Charge with 1 or 3 phases"),
    },
    status_rules=(
        ("mode3", _f("A"), "disconnected"),
        ("mode3", _f("C2", "D2"), "charging"),
        ("mode3", _f("B1", "B2", "C1", "D1"), "connected"),
        ("mode3", _f("E", "F"), "error"),
    ),
    setpoint="max_current_a",
    applied="applied_a",
    echo="max_current_a",
    identity=("manufacturer", "Alfen"),
    keepalive="setpoint",
    probe="mode3",
    block_gap=16,  # reserved registers read NaN: contiguous blocks are allowed
    timeout_s=60.0,  # the validity time set in the charger (ACE Service Installer), default 60 s
    firmware="firmware",
    uptime="uptime",
    phases="phases",
    phase_values={1: 1, 3: 3},
    phase_pause_s=30.0,
    notes="Safe current and validity time are set in the charger, not over Modbus.",
)

VESTEL = ChargerModel(
    key="vestel",
    title="Vestel EVC04 / Webasto Unite",
    default_unit=255,
    registers={
        "serial": Register(100, Kind.STR, "R", "Serial number", words=25, table=INP),
        "brand": Register(190, Kind.STR, "R", "Brand", words=10, table=INP),
        "model": Register(210, Kind.STR, "R", "Model", words=5, table=INP),
        "firmware": Register(230, Kind.STR, "R", "Firmware version", words=50, table=INP),
        "phase_hw": Register(404, Kind.U16, "R", "Number of phases (1: three)", table=INP),
        "phases": Register(405, Kind.U16, "RW", "Phase switch (0: one, 1: three)"),
        "charging_state": Register(1001, Kind.U16, "R", "Charging state (1 charging)", table=INP),
        "equipment_state": Register(1002, Kind.U16, "R", "Equipment state (2 fault)", table=INP),
        "cable_state": Register(1004, Kind.U16, "R", "Cable state (>=2 car)", table=INP),
        "current_l1": Register(1008, Kind.U16, "R", "Current L1 (mA)", 0.001, table=INP),
        "current_l2": Register(1010, Kind.U16, "R", "Current L2 (mA)", 0.001, table=INP),
        "current_l3": Register(1012, Kind.U16, "R", "Current L3 (mA)", 0.001, table=INP),
        "voltage_l1": Register(1014, Kind.U16, "R", "Voltage L1 (V)", table=INP, verified=False),
        "power_w": Register(1020, Kind.U32, "R", "Active power total (W)", table=INP),
        "meter_kwh": Register(
            1036, Kind.U32, "R", "Meter reading (0.1 kWh)", 0.1, table=INP, verified=False
        ),
        "energy_wh": Register(1502, Kind.U32, "R", "Session energy (Wh)", table=INP),
        "failsafe_a": Register(2000, Kind.U16, "RW", "Failsafe current (A)"),
        "failsafe_s": Register(2002, Kind.U16, "RW", "Failsafe timeout (s)"),
        "current_a": Register(5004, Kind.U16, "RW", "Charging current (A)"),
        "alive": Register(6000, Kind.U16, "RW", "Alive register (EMS writes 1)"),
    },
    status_rules=(
        ("equipment_state", _f(2), "error"),
        ("cable_state", _f(0, 1), "disconnected"),
        ("charging_state", _f(1), "charging"),
        ("cable_state", _f(2, 3), "connected"),
    ),
    setpoint="current_a",
    applied="current_a",
    echo="current_a",
    identity=("brand", ""),  # the brand reads Vestel, Webasto, E.ON...: any answer at 190
    keepalive="alive",
    probe="cable_state",
    timeout_s=60.0,
    firmware="firmware",
    safe_current="failsafe_a",
    timeout="failsafe_s",
    phases="phases",
    phase_values={1: 0, 3: 1},
    phase_capable=("phase_hw", 1),
    phase_pause_s=30.0,
)

ABB = ChargerModel(
    key="abb",
    title="ABB Terra AC",
    default_unit=1,
    registers={
        "serial": Register(0x4000, Kind.U64, "R", "Serial number"),
        "firmware": Register(0x4004, Kind.U32, "R", "Firmware version (bytes: major.minor.patch)"),
        "max_rated_a": Register(0x4006, Kind.U32, "R", "Max rated current (mA)", 0.001),
        "error": Register(0x4008, Kind.U32, "R", "Error code"),
        "socket": Register(0x400A, Kind.U32, "R", "Socket lock state"),
        "state": Register(
            0x400C, Kind.U32, "R", "Charging state (0 A .. 4 C2, 5 other)", shift=8, mask=0x7F
        ),
        "limit_a": Register(0x400E, Kind.U32, "R", "Charging current limit (mA)", 0.001),
        "current_l1": Register(0x4010, Kind.U32, "R", "Current L1 (mA)", 0.001),
        "current_l2": Register(0x4012, Kind.U32, "R", "Current L2 (mA)", 0.001),
        "current_l3": Register(0x4014, Kind.U32, "R", "Current L3 (mA)", 0.001),
        "voltage_l1": Register(0x4016, Kind.U32, "R", "Voltage L1 (0.1 V)", 0.1),
        "power_w": Register(0x401C, Kind.U32, "R", "Active power (W)"),
        "energy_wh": Register(0x401E, Kind.U32, "R", "Session energy (Wh)"),
        "timeout_read_s": Register(
            0x4020, Kind.U16, "R", "Communication timeout (s)", verified=False
        ),
        "set_limit_a": Register(0x4100, Kind.U32, "W", "Set charging current limit (mA)", 0.001),
        "set_timeout_s": Register(
            0x4106, Kind.U16, "W", "Set communication timeout (s)", verified=False
        ),
        "set_fallback_a": Register(
            0x4109, Kind.U16, "W", "Set fallback current limit (A)", verified=False
        ),
    },
    status_rules=(
        ("state", _f(0), "disconnected"),
        ("state", _f(4), "charging"),
        ("state", _f(1, 2, 3), "connected"),
        ("socket", _f(0x0101, 0x0111), "connected"),  # state 5: session stopped, car in
        ("socket", _f(0x0000, 0x0001, 0x0011), "disconnected"),
    ),
    setpoint="set_limit_a",
    applied="limit_a",
    echo="limit_a",
    identity=("max_rated_a", ""),  # no vendor string: an answer in ABB's 0x4000 block
    keepalive="setpoint",
    probe="state",
    timeout_s=60.0,
    firmware="firmware",
    safe_current="set_fallback_a",
    timeout="set_timeout_s",
    notes="No 1/3-phase switching over Modbus; never writes 0x4105 (start/stop).",
)

MODELS: dict[str, ChargerModel] = {m.key: m for m in (ALFEN, VESTEL, ABB)}


def abb_firmware(raw: float | str | None) -> str | None:
    """ABB's firmware register holds the version as bytes (major, minor, patch, 0)."""
    if raw is None or isinstance(raw, str):
        return raw
    b = int(raw).to_bytes(4, "big")
    return f"{b[0]}.{b[1]}.{b[2]}"
