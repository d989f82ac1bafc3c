"""A wallbox made of Home Assistant states and services, as another integration would expose it.

`switch.wb` (on/off), `number.wb_current` (A), `sensor.wb_power` (kW),
`sensor.wb_energy` (a lifetime counter, kWh), `sensor.wb_status` (OCPP words) and
the car's `sensor.car_soc`. The car draws what the wallbox offers and fills up as
`step` moves time. It can misbehave as real ones do: ignore writes, reboot (on, at
full current, setpoint forgotten), flicker its meter, let the car's SoC sleep, or
be switched on by its own app.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, ServiceCall
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from .conftest import setup_entry

ENTITY_DATA: dict[str, Any] = {
    "charger_source": "entities",
    "switch_entity": "switch.wb",
    "current_entity": "number.wb_current",
    "power_entity": "sensor.wb_power",
    "energy_entity": "sensor.wb_energy",
    "status_entity": "sensor.wb_status",
    "phases": 3,
    "voltage": 230,
    "min_current": 6,
    "max_current": 16,
    "battery_kwh": 60,
    "soc_entity": "sensor.car_soc",
    "efficiency": 1.0,
    "arrival_soc": 30,
    "tariff_kind": "preset",
    "preset": "shanghai_residential_tou",
    "max_start_delay_s": 0,
    "charging_preference": "as_early_as_possible",
}


class Wallbox:
    def __init__(
        self,
        hass: HomeAssistant,
        *,
        soc: float = 30.0,
        meter_kwh: float = 1234.6,
        sensors: tuple[str, ...] = ("power", "energy", "status", "soc"),
    ) -> None:
        self.hass = hass
        self.sensors = set(sensors)
        self.on = False
        self.amps = 16.0
        self.meter_kwh = meter_kwh
        self.soc = soc
        self.battery_kwh = 60.0
        self.plugged = True
        self.ignore_writes = 0  # the next N commands are acknowledged and ignored
        self.meter_down = False
        self.soc_asleep = False
        self.status_word: str | None = None  # forced status (a glitch)
        self.writes: list[tuple[str, float]] = []
        hass.services.async_register("switch", "turn_on", self._switch)
        hass.services.async_register("switch", "turn_off", self._switch)
        hass.services.async_register("number", "set_value", self._number)
        self.publish()

    async def _switch(self, call: ServiceCall) -> None:
        on = call.service == "turn_on"
        self.writes.append(("switch", float(on)))
        if self.ignore_writes:
            self.ignore_writes -= 1
        else:
            self.on = on
        self.publish()

    async def _number(self, call: ServiceCall) -> None:
        value = float(call.data["value"])
        self.writes.append(("current", value))
        if self.ignore_writes:
            self.ignore_writes -= 1
        else:
            self.amps = value
        self.publish()

    @property
    def power_kw(self) -> float:
        if not (self.plugged and self.on and self.amps >= 6 and self.soc < 100):
            return 0.0
        return self.amps * 230 * 3 / 1000

    def step(self, seconds: float) -> None:
        kwh = min(self.power_kw * seconds / 3600, (100 - self.soc) / 100 * self.battery_kwh)
        self.meter_kwh += kwh
        self.soc = min(100.0, self.soc + kwh / self.battery_kwh * 100)
        self.publish()

    def reboot(self) -> None:
        """Back from a power cut: on, at its own full current, the setpoint forgotten."""
        self.on, self.amps = True, 16.0
        self.publish()

    def publish(self) -> None:
        states = self.hass.states
        states.async_set("switch.wb", "on" if self.on else "off")
        states.async_set(
            "number.wb_current",
            str(self.amps),
            {"unit_of_measurement": "A", "min": 0, "max": 16, "step": 1},
        )
        if "power" in self.sensors:
            states.async_set("sensor.wb_power", str(round(self.power_kw, 3)), _unit("kW"))
        if "energy" in self.sensors:
            value = STATE_UNAVAILABLE if self.meter_down else str(round(self.meter_kwh, 4))
            states.async_set("sensor.wb_energy", value, _unit("kWh"))
        if "status" in self.sensors:
            word = self.status_word or (
                "Available"
                if not self.plugged
                else "Charging"
                if self.power_kw > 0
                else "SuspendedEVSE"
            )
            states.async_set("sensor.wb_status", word)
        if "soc" in self.sensors:
            value = STATE_UNAVAILABLE if self.soc_asleep else str(round(self.soc, 2))
            states.async_set("sensor.car_soc", value, _unit("%"))


SENSOR_KEYS = (
    ("power_entity", "power"),
    ("energy_entity", "energy"),
    ("status_entity", "status"),
    ("soc_entity", "soc"),
)


async def wallbox_entry(
    hass: HomeAssistant, wallbox: Wallbox | None = None, **data: Any
) -> tuple[MockConfigEntry, Wallbox]:
    """EVFlex set up on a wallbox (a new one with every sensor, unless one is given);
    the sensors the wallbox lacks are left out of the entry."""
    box = wallbox or Wallbox(hass)
    config = {**ENTITY_DATA, **data}
    for key, sensor in SENSOR_KEYS:
        if sensor not in box.sensors:
            config.pop(key, None)
    return await setup_entry(hass, **config), box


def _unit(unit: str) -> dict[str, str]:
    return {"unit_of_measurement": unit}


async def drive(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    wallbox: Wallbox | None,
    minutes: float,
    step_s: int = 60,
) -> None:
    """Move time in steps; the car charges between steps and EVFlex's cycle runs at each."""
    for _ in range(int(minutes * 60 // step_s)):
        if wallbox is not None:
            wallbox.step(step_s)
        freezer.tick(timedelta(seconds=step_s))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
