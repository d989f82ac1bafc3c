"""Charger drivers: everything EVFlex says to a charger goes through `ChargerDriver`."""

from __future__ import annotations

from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from ..const import (
    CONF_ARRIVAL_SOC,
    CONF_BATTERY_KWH,
    CONF_CHARGER_SOURCE,
    CONF_CURRENT,
    CONF_EFFICIENCY,
    CONF_ENERGY_SENSOR,
    CONF_MAX_CURRENT,
    CONF_MIN_CURRENT,
    CONF_MODBUS_MODEL,
    CONF_PHASES,
    CONF_POWER_SENSOR,
    CONF_STATUS_SENSOR,
    CONF_SWITCH,
    CONF_UNIT_ID,
    CONF_VOLTAGE,
    DEFAULT_ARRIVAL_SOC,
    DEFAULT_EFFICIENCY,
    DEFAULT_MODBUS_PORT,
    SOURCE_MODBUS,
    SOURCE_SIMULATED,
)
from .base import ChargerDriver, ChargerLimits
from .entities import EntityCharger
from .simulated import SimulatedCharger


def limits_of(config: dict[str, Any]) -> ChargerLimits:
    return ChargerLimits(
        phases=int(config[CONF_PHASES]),
        voltage=float(config[CONF_VOLTAGE]),
        min_current=float(config[CONF_MIN_CURRENT]),
        max_current=float(config[CONF_MAX_CURRENT]),
    )


def create_driver(
    hass: HomeAssistant, config: dict[str, Any], sim_soc: float | None
) -> ChargerDriver:
    limits = limits_of(config)
    if config[CONF_CHARGER_SOURCE] == SOURCE_SIMULATED:
        return SimulatedCharger(
            limits,
            battery_kwh=float(config[CONF_BATTERY_KWH]),
            soc_pct=sim_soc
            if sim_soc is not None
            else float(config.get(CONF_ARRIVAL_SOC, DEFAULT_ARRIVAL_SOC)),
            efficiency=float(config.get(CONF_EFFICIENCY, DEFAULT_EFFICIENCY)),
        )
    if config[CONF_CHARGER_SOURCE] == SOURCE_MODBUS:
        return _modbus(limits, config)
    return EntityCharger(
        hass,
        limits,
        switch=config.get(CONF_SWITCH),
        current=config.get(CONF_CURRENT),
        power=config.get(CONF_POWER_SENSOR),
        energy=config.get(CONF_ENERGY_SENSOR),
        status=config.get(CONF_STATUS_SENSOR),
    )


def _modbus(limits: ChargerLimits, config: dict[str, Any]) -> ChargerDriver:
    from .modbus.driver import ModbusCharger
    from .modbus.maps import MODELS

    unit = config.get(CONF_UNIT_ID)
    return ModbusCharger(
        limits,
        MODELS[config[CONF_MODBUS_MODEL]],
        config[CONF_HOST],
        int(config.get(CONF_PORT, DEFAULT_MODBUS_PORT)),
        None if unit in (None, "") else int(unit),
        # Home Assistant's clock: back-off and re-apply throttling follow it (and a
        # test's frozen clock); the keep-alive task sleeps on the event loop.
        clock=lambda: dt_util.utcnow().timestamp(),
    )
