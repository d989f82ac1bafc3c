"""A charger made of entities already in Home Assistant (OCPP, go-e, Wallbox, Easee, ...).

Control: a switch (start/stop) and/or a number holding the current (A) or the power
(W, kW). Optional sensors: power, energy, and a status whose text is mapped to
connected/charging by the vocabulary those integrations use; an unknown status
counts as connected, so a car is never left uncharged for a word we do not know.
Without an energy sensor the energy is integrated from the power sensor, or from
the setpoint while charging (an estimate, for the SoC when no SoC sensor is set).
"""

from __future__ import annotations

from datetime import datetime

from homeassistant.const import STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN, UnitOfPower
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from .base import ChargerDriver, ChargerError, ChargerLimits, ChargerState

# Status words (lower case) of common charger integrations.
DISCONNECTED = {
    "available",  # OCPP
    "disconnected",  # Easee, Wallbox
    "idle",  # go-e
    "ready",  # Wallbox: ready, no car
    "no_car",
    "unplugged",
    "a",  # IEC 61851 state A
}
CHARGING = {"charging", "c", "d"}
ERROR = {"faulted", "error", "e", "f"}

ENERGY_TO_KWH = {"Wh": 0.001, "kWh": 1.0, "MWh": 1000.0}


def to_kw(value: float, unit: str) -> float:
    """A power in W or kW (the two units HA's power sensors use) in kW."""
    return value / 1000 if unit == UnitOfPower.WATT else value


class EntityCharger(ChargerDriver):
    def __init__(
        self,
        hass: HomeAssistant,
        limits: ChargerLimits,
        *,
        switch: str | None,
        current: str | None,
        power: str | None = None,
        energy: str | None = None,
        status: str | None = None,
    ) -> None:
        super().__init__(limits)
        self._integrated_kwh = 0.0
        self._last_read: datetime | None = None
        self._last_kw = 0.0
        self.hass = hass
        self.switch, self.current = switch, current
        self.power, self.energy, self.status = power, energy, status

    def _state(self, entity_id: str, *, required: bool) -> State | None:
        state = self.hass.states.get(entity_id)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            if required:
                raise ChargerError(f"{entity_id} is unavailable")
            return None
        return state

    def _number(self, entity_id: str | None) -> tuple[float, str] | None:
        if entity_id is None:
            return None
        state = self._state(entity_id, required=False)
        if state is None:
            return None
        try:
            return float(state.state), str(state.attributes.get("unit_of_measurement", ""))
        except ValueError:
            return None

    async def async_read(self) -> ChargerState:
        switched_on = True
        if self.switch:
            switch = self._state(self.switch, required=True)
            switched_on = switch is not None and switch.state == STATE_ON
        setpoint = 0.0
        if self.current:
            self._state(self.current, required=True)
            read = self._number(self.current)
            setpoint = self._to_amps(*read) if read else 0.0
        if not switched_on:
            setpoint = 0.0
        power_kw = 0.0
        if (power := self._number(self.power)) is not None:
            power_kw = to_kw(*power)
        connected, status = self._status(power_kw)
        if self.power is None and connected and setpoint > 0:
            power_kw = self.limits.kw(setpoint)  # no meter: assume the car takes the offer
        energy = self._number(self.energy)
        energy_kwh = (
            energy[0] * ENERGY_TO_KWH.get(energy[1], 1.0) if energy else self._integrate(power_kw)
        )
        charging = status == "charging" or (power_kw > 0.05 and connected)
        return ChargerState(
            connected=connected,
            charging=charging,
            power_kw=max(power_kw, 0.0),
            energy_kwh=energy_kwh,
            current_a=setpoint,
            status="charging" if charging and status != "error" else status,
        )

    def _integrate(self, power_kw: float) -> float:
        """kWh from the power at the previous reading, held until now."""
        now = dt_util.utcnow()
        if self._last_read is not None:
            self._integrated_kwh += self._last_kw * (now - self._last_read).total_seconds() / 3600
        self._last_read, self._last_kw = now, power_kw
        return self._integrated_kwh

    def _status(self, power_kw: float) -> tuple[bool, str]:
        state = self._state(self.status, required=False) if self.status else None
        if state is None:
            return True, "charging" if power_kw > 0.05 else "connected"
        word = state.state.strip().lower().replace(" ", "_")
        if word in DISCONNECTED:
            return False, "disconnected"
        if word in ERROR:
            return True, "error"
        if word in CHARGING:
            return True, "charging"
        return True, "connected"

    def _to_amps(self, value: float, unit: str) -> float:
        if unit in (UnitOfPower.WATT, UnitOfPower.KILO_WATT):
            return to_kw(value, unit) * 1000 / (self.limits.voltage * self.limits.phases)
        return value

    async def async_set_current(self, amps: float) -> None:
        try:
            if amps > 0 and self.current:
                await self._set_number(amps)
            if self.switch:
                service = "turn_on" if amps > 0 else "turn_off"
                domain = self.switch.split(".", 1)[0]  # switch or input_boolean
                await self.hass.services.async_call(
                    domain, service, {"entity_id": self.switch}, blocking=True
                )
            elif amps <= 0 and self.current:
                await self._set_number(0.0)
        except (HomeAssistantError, ValueError) as err:
            raise ChargerError(f"the charger refused the command: {err}") from err

    async def _set_number(self, amps: float) -> None:
        assert self.current is not None
        state = self._state(self.current, required=True)
        unit = str(state.attributes.get("unit_of_measurement", "A")) if state else "A"
        scale = {"kW": self.limits.kw(1.0), "W": self.limits.kw(1.0) * 1000}.get(unit, 1.0)
        value = amps * scale  # the number holds amps, or the power they mean
        domain = self.current.split(".", 1)[0]
        await self.hass.services.async_call(
            domain, "set_value", {"entity_id": self.current, "value": value}, blocking=True
        )
