"""The charger driver interface: read the state, set the current (0 stops)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


class ChargerError(Exception):
    """The charger cannot be read or commanded (unreachable, unavailable, refused)."""


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


@dataclass(frozen=True, slots=True)
class ChargerState:
    connected: bool  # a car is plugged in
    charging: bool  # energy is flowing
    power_kw: float
    energy_kwh: float  # a counter that only grows (per session or lifetime)
    current_a: float  # the present setpoint; 0 when stopped
    status: str  # disconnected | connected | charging | error
    soc_pct: float | None = None  # when the charger (or simulator) knows the car's SoC


class ChargerDriver(ABC):
    """One small interface for every charger: HA entities, the simulator, Modbus."""

    def __init__(self, limits: ChargerLimits) -> None:
        self.limits = limits

    @abstractmethod
    async def async_read(self) -> ChargerState:
        """The charger's state now; raise ChargerError if it cannot be read."""

    @abstractmethod
    async def async_set_current(self, amps: float) -> None:
        """Offer `amps` to the car (0: stop charging); raise ChargerError on failure."""

    async def async_close(self) -> None:  # noqa: B027 - optional for drivers
        """Release connections (nothing by default)."""
