"""The charger driver interface: read the state back, set the current (0 stops).

Every charger (Home Assistant entities, the simulator, Modbus TCP) is one
`ChargerDriver`. A driver reports what it reads, and `None` for what it cannot
read now; it never guesses (no power assumed from the setpoint, no energy
integrated when a meter drops out): the session and the controller decide what an
unknown value means.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


class ChargerError(Exception):
    """The charger cannot be read or commanded (unreachable, unavailable, refused)."""


class SetpointRefused(ChargerError, ValueError):
    """A setpoint outside {0} and [min, max]: refused before anything is written."""


@dataclass(frozen=True, slots=True)
class ChargerLimits:
    phases: int
    voltage: float
    min_current: float
    max_current: float

    def kw(self, amps: float) -> float:
        return amps * self.voltage * self.phases / 1000

    @property
    def min_kw(self) -> float:
        return self.kw(self.min_current)

    @property
    def max_kw(self) -> float:
        return self.kw(self.max_current)

    def amps(self, kw: float) -> float:
        """The setpoint for `kw`: 0 below the minimum, else whole amps not above kw, clamped."""
        if kw < self.min_kw - 1e-6:
            return 0.0
        exact = kw * 1000 / (self.voltage * self.phases)
        return float(min(self.max_current, max(self.min_current, int(exact + 1e-6))))

    def check(self, amps: float) -> None:
        """Refuse a setpoint that is neither 0 nor within [min, max] (IEC 61851: 6 A minimum)."""
        if amps != 0 and not self.min_current <= amps <= self.max_current:
            raise SetpointRefused(
                f"setpoint {amps:g} A: must be 0 or between {self.min_current:g} and "
                f"{self.max_current:g} A"
            )


@dataclass(frozen=True, slots=True)
class ChargerState:
    connected: bool | None  # a car is plugged in; None: the charger cannot tell
    charging: bool  # energy is flowing (or the charger says so)
    power_kw: float | None  # measured; None: no power reading
    energy_kwh: float | None  # the charger's counter (session or lifetime); None: none now
    setpoint_a: float | None  # the current limit read back (0: stopped); None: not readable
    enabled: bool | None  # charging allowed (a switch, an enable flag); None: no such control
    status: str  # disconnected | connected | charging | error | unknown
    soc_pct: float | None = None  # when the charger (or simulator) knows the car's SoC
    phase_currents_a: tuple[float, ...] = field(default=())

    def offers(self) -> float | None:
        """What the charger offers the car now, as read back (A); None when unknown."""
        if self.enabled is False:
            return 0.0
        return self.setpoint_a


class ChargerDriver(ABC):
    """One small interface for every charger: HA entities, the simulator, Modbus."""

    def __init__(self, limits: ChargerLimits) -> None:
        self.limits = limits

    @property
    def has_meter(self) -> bool:
        """The charger has an energy counter (else the session integrates power)."""
        return True

    @property
    def knows_plug(self) -> bool:
        """The charger can tell whether a car is plugged in (a `None` is then a gap)."""
        return True

    async def async_setup(self) -> None:  # noqa: B027 - optional for drivers
        """Connect and program what the charger needs (safe current, watchdog)."""

    @abstractmethod
    async def async_read(self) -> ChargerState:
        """The charger's state now; raise ChargerError if it cannot be read."""

    @abstractmethod
    async def async_set_current(self, amps: float) -> None:
        """Offer `amps` to the car (0: stop charging); raise ChargerError on failure.

        `amps` is 0 or within the limits (`ChargerLimits.check`); a driver refuses
        anything else before writing.
        """

    async def async_close(self) -> None:  # noqa: B027 - optional for drivers
        """Release connections and leave the charger in its documented safe state."""

    def diagnostics(self) -> dict[str, Any]:
        """What the driver knows of the charger (model, firmware, last reads): redacted."""
        return {}
