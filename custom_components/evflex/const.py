"""Constants of the EVFlex integration."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

DOMAIN: Final = "evflex"

# Config entry keys (data and options share them; options win).
CONF_CHARGER_SOURCE: Final = "charger_source"
SOURCE_ENTITIES: Final = "entities"
SOURCE_SIMULATED: Final = "simulated"
SOURCE_MODBUS: Final = "modbus"
CHARGER_SOURCES: Final = (SOURCE_ENTITIES, SOURCE_MODBUS, SOURCE_SIMULATED)

CONF_SWITCH: Final = "switch_entity"
CONF_CURRENT: Final = "current_entity"
CONF_POWER_SENSOR: Final = "power_entity"
CONF_ENERGY_SENSOR: Final = "energy_entity"
CONF_STATUS_SENSOR: Final = "status_entity"
CONF_PHASES: Final = "phases"
CONF_VOLTAGE: Final = "voltage"
CONF_MIN_CURRENT: Final = "min_current"
CONF_MAX_CURRENT: Final = "max_current"

CONF_BATTERY_KWH: Final = "battery_kwh"
CONF_SOC_SENSOR: Final = "soc_entity"
CONF_EFFICIENCY: Final = "efficiency"
CONF_ARRIVAL_SOC: Final = "arrival_soc"

CONF_PV_POWER: Final = "pv_power_entity"
CONF_PV_FORECAST: Final = "pv_forecast_entity"
CONF_HOUSE_POWER: Final = "house_power_entity"

CONF_TARIFF_KIND: Final = "tariff_kind"
TARIFF_PRESET: Final = "preset"
TARIFF_CUSTOM: Final = "custom"
TARIFF_SENSOR: Final = "sensor"
TARIFF_KINDS: Final = (TARIFF_PRESET, TARIFF_CUSTOM, TARIFF_SENSOR)
CONF_PRESET: Final = "preset"
CONF_PEAK_PRICE: Final = "peak_price"
CONF_OFFPEAK_PRICE: Final = "offpeak_price"
CONF_OFFPEAK_START: Final = "offpeak_start"
CONF_OFFPEAK_END: Final = "offpeak_end"
CONF_EXPORT_PRICE: Final = "export_price"
CONF_PRICE_SENSOR: Final = "price_entity"
CONF_EXPORT_SENSOR: Final = "export_price_entity"
CONF_CURRENCY: Final = "currency"

CONF_IMPORT_LIMIT: Final = "import_limit_kw"
CONF_EXPORT_LIMIT: Final = "export_limit_kw"
CONF_START_DELAY: Final = "max_start_delay_s"
CONF_REMOTE_URL: Final = "remote_url"
CONF_PREFERENCE: Final = "charging_preference"
PREFERENCES: Final = ("grid_friendly", "as_early_as_possible")

DEFAULT_VOLTAGE: Final = 230
DEFAULT_PHASES: Final = 1
DEFAULT_MIN_CURRENT: Final = 6
DEFAULT_MAX_CURRENT: Final = 16
DEFAULT_EFFICIENCY: Final = 0.9
DEFAULT_ARRIVAL_SOC: Final = 40
DEFAULT_START_DELAY_S: Final = 600
DEFAULT_TARGET_SOC: Final = 80
DEFAULT_MIN_SOC: Final = 20
DEFAULT_DEPARTURE: Final = "07:30"

MODES: Final = ("smart", "solar_only", "fast", "off")

SLOT_MINUTES: Final = 15
TICK: Final = timedelta(seconds=30)  # charger poll and plan execution
MIN_WRITE_INTERVAL: Final = timedelta(seconds=30)

EVENT_PLAN_UPDATED: Final = f"{DOMAIN}_plan_updated"
EVENT_TARGET_AT_RISK: Final = f"{DOMAIN}_target_at_risk"
EVENT_CHARGING_STARTED: Final = f"{DOMAIN}_charging_started"
EVENT_CHARGING_STOPPED: Final = f"{DOMAIN}_charging_stopped"

ISSUE_CHARGER_UNREACHABLE: Final = "charger_unreachable"
ISSUE_CHARGER_REFUSES: Final = "charger_refuses"
ISSUE_OPTIMIZER_FAILED: Final = "optimizer_failed"
ISSUE_PRICES_UNKNOWN: Final = "prices_unknown"

# Modbus TCP chargers (charger/modbus): host and port are HA's CONF_HOST / CONF_PORT.
CONF_MODBUS_MODEL: Final = "modbus_model"
CONF_UNIT_ID: Final = "unit_id"
DEFAULT_MODBUS_PORT: Final = 502

# Departures (schedule.py): a weekly schedule and a calendar, in the options.
CONF_SCHEDULE: Final = "departure_schedule"
CONF_CALENDAR: Final = "departure_calendar"
CONF_CALENDAR_WORD: Final = "departure_calendar_word"
DEFAULT_CALENDAR_WORD: Final = "EV"
DEPARTURE_KEYS: Final = (CONF_SCHEDULE, CONF_CALENDAR, CONF_CALENDAR_WORD)

# Dispatch, the owner's side (options flow "dispatch"): who may send, who wins, the reward.
CONF_DISPATCH_AUTH: Final = "dispatch_auth"
AUTH_STANDARD_WEBHOOKS: Final = "standard_webhooks"
AUTH_BEARER: Final = "bearer"
DISPATCH_AUTHS: Final = (AUTH_STANDARD_WEBHOOKS, AUTH_BEARER)
CONF_DISPATCH_DRIVER_FIRST: Final = "dispatch_driver_first"
CONF_REWARD_MONTHLY: Final = "reward_monthly"
CONF_REWARD_PER_KW: Final = "reward_per_kw"
CONF_REWARD_PER_KWH: Final = "reward_per_kwh"
REWARD_KEYS: Final = (CONF_REWARD_MONTHLY, CONF_REWARD_PER_KW, CONF_REWARD_PER_KWH)
