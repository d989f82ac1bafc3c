"""A charger made of entities already in Home Assistant (OCPP, go-e, Wallbox, Easee, ...).

Control: a switch (start/stop) and/or a number holding the current (A) or the power
(W, kW). Optional sensors: power, energy, and a status whose text is mapped to
connected/charging by the vocabulary those integrations use; an unknown status
counts as connected, so a car is never left uncharged for a word we do not know.
What is not configured (or unavailable now) reads as unknown (None): the session
integrates power only for a charger that has no energy meter at all, and a charger
without a status sensor cannot say whether a car is plugged in.
"""

from __future__ import annotations

from homeassistant.const import STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN, UnitOfPower
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError

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

    @property
    def has_meter(self) -> bool:
        return self.energy is not None

    @property
    def knows_plug(self) -> bool:
        return self.status is not None

    async def async_read(self) -> ChargerState:
        enabled: bool | None = None
        if self.switch:
            switch = self._state(self.switch, required=True)
            enabled = switch is not None and switch.state == STATE_ON
        setpoint: float | None = None
        if self.current:
            self._state(self.current, required=True)
            read = self._number(self.current)
            setpoint = self._to_amps(*read) if read else None
        power_kw: float | None = None
        if (power := self._number(self.power)) is not None:
            power_kw = max(to_kw(*power), 0.0)
        connected, status = self._status(power_kw)
        energy = self._number(self.energy)
        charging = status == "charging" or (power_kw is not None and power_kw > 0.05)
        return ChargerState(
            connected=connected,
            charging=charging and connected is not False,
            power_kw=power_kw,
            energy_kwh=energy[0] * ENERGY_TO_KWH.get(energy[1], 1.0) if energy else None,
            setpoint_a=setpoint,
            enabled=enabled,
            status="charging" if charging and status not in ("error", "disconnected") else status,
        )

    def _status(self, power_kw: float | None) -> tuple[bool | None, str]:
        """(connected, status) from the status sensor; None: no sensor (or it is unavailable)."""
        state = self._state(self.status, required=False) if self.status else None
        if state is None:
            return None, "unknown"
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
