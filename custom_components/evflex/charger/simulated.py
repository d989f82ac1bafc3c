"""A simulated charger with a car attached, for trying EVFlex without hardware.

The car's state of charge follows the energy the charger delivers, integrated over
Home Assistant's clock (so tests can move time with freezer). The car is plugged
in unless told otherwise (`plug`), and the charger can be made unreachable to show
how EVFlex degrades.
"""

from __future__ import annotations

from datetime import datetime

from homeassistant.util import dt as dt_util

from .base import ChargerDriver, ChargerError, ChargerLimits, ChargerState


class SimulatedCharger(ChargerDriver):
    def __init__(
        self, limits: ChargerLimits, battery_kwh: float, soc_pct: float, efficiency: float
    ) -> None:
        super().__init__(limits)
        self.battery_kwh = battery_kwh
        self.soc_pct = soc_pct
        self.efficiency = efficiency
        self.connected = True
        self.reachable = True
        self.current_a = 0.0
        self.energy_kwh = 0.0
        self._since: datetime = dt_util.utcnow()

    def _advance(self) -> None:
        now = dt_util.utcnow()
        hours = max(0.0, (now - self._since).total_seconds() / 3600)
        self._since = now
        kw = self._power_kw()
        if kw <= 0 or hours <= 0:
            return
        room = (100 - self.soc_pct) / 100 * self.battery_kwh / self.efficiency
        drawn = min(kw * hours, room)
        self.energy_kwh += drawn
        self.soc_pct = min(100.0, self.soc_pct + drawn * self.efficiency / self.battery_kwh * 100)

    def _power_kw(self) -> float:
        if not self.connected or self.current_a <= 0 or self.soc_pct >= 100:
            return 0.0
        return self.limits.kw(self.current_a)

    def plug(self, connected: bool, soc_pct: float | None = None) -> None:
        self._advance()
        self.connected = connected
        if soc_pct is not None:
            self.soc_pct = soc_pct

    async def async_read(self) -> ChargerState:
        if not self.reachable:
            raise ChargerError("the simulated charger does not answer")
        self._advance()
        kw = self._power_kw()
        status = "charging" if kw > 0 else ("connected" if self.connected else "disconnected")
        return ChargerState(
            connected=self.connected,
            charging=kw > 0,
            power_kw=kw,
            energy_kwh=self.energy_kwh,
            setpoint_a=self.current_a,
            enabled=None,
            status=status,
            soc_pct=round(self.soc_pct, 3),
        )

    async def async_set_current(self, amps: float) -> None:
        if not self.reachable:
            raise ChargerError("the simulated charger does not answer")
        self._advance()
        self.current_a = amps
