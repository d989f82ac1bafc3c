"""Config, options and reconfigure flows: everything set up in the UI, validated per step.

Steps: user (name, charger source) -> charger (entities and limits) -> vehicle ->
energy (PV, house) -> tariff (kind) -> tariff_preset | tariff_custom | tariff_sensor
-> grid. The options flow walks vehicle..grid again; reconfigure walks the charger.
The steps are shared by all three flows (`StepsMixin`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Literal

import aiohttp
import voluptuous as vol
from homeassistant.config_entries import ConfigEntry, ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import selector as sel
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .charger.modbus.flow import modbus_fields, validate_modbus
from .const import (
    AUTH_BEARER,
    AUTH_STANDARD_WEBHOOKS,
    CHARGER_SOURCES,
    CONF_ARRIVAL_SOC,
    CONF_BATTERY_KWH,
    CONF_CALENDAR,
    CONF_CALENDAR_WORD,
    CONF_CHARGER_SOURCE,
    CONF_CURRENCY,
    CONF_CURRENT,
    CONF_DISPATCH_AUTH,
    CONF_DISPATCH_DRIVER_FIRST,
    CONF_EFFICIENCY,
    CONF_ENERGY_SENSOR,
    CONF_EXPORT_LIMIT,
    CONF_EXPORT_PRICE,
    CONF_EXPORT_SENSOR,
    CONF_HOUSE_POWER,
    CONF_IMPORT_LIMIT,
    CONF_MAX_CURRENT,
    CONF_MIN_CURRENT,
    CONF_MODBUS_MODEL,
    CONF_OFFPEAK_END,
    CONF_OFFPEAK_PRICE,
    CONF_OFFPEAK_START,
    CONF_PEAK_PRICE,
    CONF_PHASES,
    CONF_POWER_SENSOR,
    CONF_PREFERENCE,
    CONF_PRESET,
    CONF_PRICE_SENSOR,
    CONF_PV_FORECAST,
    CONF_PV_POWER,
    CONF_REMOTE_URL,
    CONF_REWARD_MONTHLY,
    CONF_REWARD_PER_KW,
    CONF_REWARD_PER_KWH,
    CONF_SCHEDULE,
    CONF_SOC_SENSOR,
    CONF_START_DELAY,
    CONF_STATUS_SENSOR,
    CONF_SWITCH,
    CONF_TARIFF_KIND,
    CONF_UNIT_ID,
    CONF_VOLTAGE,
    DEFAULT_ARRIVAL_SOC,
    DEFAULT_CALENDAR_WORD,
    DEFAULT_EFFICIENCY,
    DEFAULT_MAX_CURRENT,
    DEFAULT_MIN_CURRENT,
    DEFAULT_PHASES,
    DEFAULT_START_DELAY_S,
    DEFAULT_VOLTAGE,
    DISPATCH_AUTHS,
    DOMAIN,
    PREFERENCES,
    REWARD_KEYS,
    SOURCE_ENTITIES,
    SOURCE_MODBUS,
    SOURCE_SIMULATED,
    TARIFF_KINDS,
    TARIFF_PRESET,
)
from .dispatch.reward import MAX_AMOUNT, TERMS_SCHEMA, validate_terms
from .inputs import read_float
from .optimizer.tariffs import list_presets
from .schedule import WEEKDAYS, Day, Schedule

Data = dict[str, Any]
Errors = dict[str, str]


def _number(
    low: float, high: float, step: float | Literal["any"] = "any", unit: str | None = None
) -> sel.NumberSelector:
    config = sel.NumberSelectorConfig(min=low, max=high, step=step, mode=sel.NumberSelectorMode.BOX)
    if unit:
        config["unit_of_measurement"] = unit
    return sel.NumberSelector(config)


def _entity(*domains: str, device_class: str | None = None) -> sel.EntitySelector:
    config = sel.EntitySelectorConfig(domain=list(domains))
    if device_class:
        config = sel.EntitySelectorConfig(domain=list(domains), device_class=device_class)
    return sel.EntitySelector(config)


def _choice(options: list[str], key: str) -> sel.SelectSelector:
    return sel.SelectSelector(
        sel.SelectSelectorConfig(
            options=options, translation_key=key, mode=sel.SelectSelectorMode.LIST
        )
    )


def _optional(key: str, defaults: Data) -> vol.Optional:
    """An optional field that can be cleared: its current value is only suggested."""
    return vol.Optional(key, description={"suggested_value": defaults.get(key)})


def _required(key: str, defaults: Data, default: Any = vol.UNDEFINED) -> vol.Required:
    return vol.Required(key, default=defaults.get(key, default))


# --- schemas (defaults: the values so far) ----------------------------------------


def charger_schema(d: Data) -> vol.Schema:
    fields: dict[Any, Any] = {}
    if d.get(CONF_CHARGER_SOURCE) == SOURCE_ENTITIES:
        fields |= {
            _optional(CONF_SWITCH, d): _entity("switch", "input_boolean"),
            _optional(CONF_CURRENT, d): _entity("number", "input_number"),
            _optional(CONF_POWER_SENSOR, d): _entity("sensor", device_class="power"),
            _optional(CONF_ENERGY_SENSOR, d): _entity("sensor", device_class="energy"),
            _optional(CONF_STATUS_SENSOR, d): _entity("sensor"),
        }
    if d.get(CONF_CHARGER_SOURCE) == SOURCE_MODBUS:
        fields |= modbus_fields(d)
    fields |= {
        _required(CONF_PHASES, d, str(DEFAULT_PHASES)): _choice(["1", "3"], "phases"),
        _required(CONF_VOLTAGE, d, DEFAULT_VOLTAGE): _number(100, 400, 1, "V"),
        _required(CONF_MIN_CURRENT, d, DEFAULT_MIN_CURRENT): _number(1, 80, 1, "A"),
        _required(CONF_MAX_CURRENT, d, DEFAULT_MAX_CURRENT): _number(1, 80, 1, "A"),
    }
    return vol.Schema(fields)


def vehicle_schema(d: Data) -> vol.Schema:
    return vol.Schema(
        {
            _required(CONF_BATTERY_KWH, d, 60): _number(5, 250, 0.1, "kWh"),
            _optional(CONF_SOC_SENSOR, d): _entity("sensor", "input_number"),
            _required(CONF_EFFICIENCY, d, DEFAULT_EFFICIENCY): _number(0.5, 1.0, 0.01),
            _required(CONF_ARRIVAL_SOC, d, DEFAULT_ARRIVAL_SOC): _number(0, 100, 1, "%"),
        }
    )


def energy_schema(d: Data) -> vol.Schema:
    return vol.Schema(
        {
            _optional(CONF_PV_POWER, d): _entity("sensor", device_class="power"),
            _optional(CONF_PV_FORECAST, d): _entity("sensor"),
            _optional(CONF_HOUSE_POWER, d): _entity("sensor", device_class="power"),
        }
    )


def tariff_schema(d: Data) -> vol.Schema:
    return vol.Schema(
        {_required(CONF_TARIFF_KIND, d, TARIFF_PRESET): _choice(list(TARIFF_KINDS), "tariff_kind")}
    )


def preset_schema(d: Data) -> vol.Schema:
    presets = list_presets()
    return vol.Schema({_required(CONF_PRESET, d, presets[0]): _choice(presets, "preset")})


def custom_schema(d: Data) -> vol.Schema:
    return vol.Schema(
        {
            _required(CONF_PEAK_PRICE, d): _number(-10, 100),
            _required(CONF_OFFPEAK_PRICE, d): _number(-10, 100),
            _required(CONF_OFFPEAK_START, d, "22:00:00"): sel.TimeSelector(),
            _required(CONF_OFFPEAK_END, d, "06:00:00"): sel.TimeSelector(),
            _optional(CONF_EXPORT_PRICE, d): _number(-10, 100),
            _optional(CONF_CURRENCY, d): sel.TextSelector(),
        }
    )


def sensor_schema(d: Data) -> vol.Schema:
    return vol.Schema(
        {
            _required(CONF_PRICE_SENSOR, d): _entity("sensor", "input_number"),
            _optional(CONF_EXPORT_SENSOR, d): _entity("sensor", "input_number"),
            _optional(CONF_EXPORT_PRICE, d): _number(-10, 100),
        }
    )


def grid_schema(d: Data) -> vol.Schema:
    return vol.Schema(
        {
            _optional(CONF_IMPORT_LIMIT, d): _number(1, 1000, 0.1, "kW"),
            _optional(CONF_EXPORT_LIMIT, d): _number(0, 1000, 0.1, "kW"),
            _required(CONF_START_DELAY, d, DEFAULT_START_DELAY_S): _number(0, 1800, 1, "s"),
            _required(CONF_PREFERENCE, d, PREFERENCES[0]): _choice(list(PREFERENCES), "preference"),
            _optional(CONF_REMOTE_URL, d): sel.TextSelector(
                sel.TextSelectorConfig(type=sel.TextSelectorType.URL)
            ),
        }
    )


# --- validation: errors per field, as HA forms show them -----------------------------


def _entity_exists(hass: HomeAssistant, entity_id: str | None) -> bool:
    return not entity_id or hass.states.get(entity_id) is not None


async def validate_charger(hass: HomeAssistant, d: Data) -> Errors:
    errors: Errors = {}
    if d.get(CONF_CHARGER_SOURCE) == SOURCE_ENTITIES:
        if not d.get(CONF_SWITCH) and not d.get(CONF_CURRENT):
            errors["base"] = "need_control"
        for key in (
            CONF_SWITCH,
            CONF_CURRENT,
            CONF_POWER_SENSOR,
            CONF_ENERGY_SENSOR,
            CONF_STATUS_SENSOR,
        ):
            if not _entity_exists(hass, d.get(key)):
                errors[key] = "entity_not_found"
        if not d.get(CONF_SWITCH) and _cannot_stop(hass, d.get(CONF_CURRENT)):
            errors[CONF_CURRENT] = "cannot_stop"
    if float(d[CONF_MIN_CURRENT]) > float(d[CONF_MAX_CURRENT]):
        errors[CONF_MIN_CURRENT] = "min_above_max"
    if d.get(CONF_CHARGER_SOURCE) == SOURCE_MODBUS and not errors:
        errors |= await validate_modbus(hass, d)  # connects: only once the rest is valid
    return errors


def _cannot_stop(hass: HomeAssistant, entity_id: str | None) -> bool:
    """A current number that cannot be set to 0 (many refuse below 6 A) cannot stop the car."""
    state = hass.states.get(entity_id) if entity_id else None
    if state is None:
        return False
    try:
        return float(state.attributes.get("min", 0)) > 0
    except (TypeError, ValueError):
        return False


CHARGER_KEYS = (
    CONF_CHARGER_SOURCE,
    CONF_HOST,
    CONF_PORT,
    CONF_UNIT_ID,
    CONF_MODBUS_MODEL,
    CONF_SWITCH,
    CONF_CURRENT,
    CONF_POWER_SENSOR,
    CONF_ENERGY_SENSOR,
    CONF_STATUS_SENSOR,
    CONF_PHASES,
    CONF_VOLTAGE,
    CONF_MIN_CURRENT,
    CONF_MAX_CURRENT,
)


def split(values: Data) -> tuple[Data, Data]:
    """(data, options): the charger is the entry's data; everything else is an option."""
    data = {k: v for k, v in values.items() if k in CHARGER_KEYS}
    options = {k: v for k, v in values.items() if k not in CHARGER_KEYS and k != CONF_NAME}
    return data, options


def charger_id(hass: HomeAssistant, values: Data, name: str) -> str:
    """The entry's unique id: the charger itself (its control entity), not a typed name."""
    if values.get(CONF_CHARGER_SOURCE) == SOURCE_SIMULATED:
        return f"simulated_{name.strip().lower()}"
    if values.get(CONF_CHARGER_SOURCE) == SOURCE_MODBUS:
        unit = values.get(CONF_UNIT_ID)
        unit_id = "default" if unit in (None, "") else int(unit)
        return f"modbus_{str(values[CONF_HOST]).strip().lower()}:{int(values[CONF_PORT])}:{unit_id}"
    entity_id = values.get(CONF_SWITCH) or values.get(CONF_CURRENT)
    registered = er.async_get(hass).async_get(entity_id) if entity_id else None
    return f"entity_{registered.id if registered else entity_id}"


async def validate_vehicle(hass: HomeAssistant, d: Data) -> Errors:
    return (
        {}
        if _entity_exists(hass, d.get(CONF_SOC_SENSOR))
        else {CONF_SOC_SENSOR: "entity_not_found"}
    )


async def validate_energy(hass: HomeAssistant, d: Data) -> Errors:
    return {
        key: "entity_not_found"
        for key in (CONF_PV_POWER, CONF_PV_FORECAST, CONF_HOUSE_POWER)
        if not _entity_exists(hass, d.get(key))
    }


async def validate_custom(hass: HomeAssistant, d: Data) -> Errors:
    if str(d[CONF_OFFPEAK_START])[:5] == str(d[CONF_OFFPEAK_END])[:5]:
        return {CONF_OFFPEAK_END: "same_times"}
    return {}


async def validate_sensor(hass: HomeAssistant, d: Data) -> Errors:
    if read_float(hass, d[CONF_PRICE_SENSOR]) is None:
        return {CONF_PRICE_SENSOR: "no_price"}
    return (
        {}
        if _entity_exists(hass, d.get(CONF_EXPORT_SENSOR))
        else {CONF_EXPORT_SENSOR: "entity_not_found"}
    )


async def validate_grid(hass: HomeAssistant, d: Data) -> Errors:
    url = d.get(CONF_REMOTE_URL)
    if not url:
        return {}
    try:
        async with async_get_clientsession(hass).get(
            f"{url.rstrip('/')}/healthz", timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200 or body.get("status") != "ok":
                return {CONF_REMOTE_URL: "not_optimizer"}
    except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError):
        return {CONF_REMOTE_URL: "cannot_connect"}
    return {}


Validator = Callable[[HomeAssistant, Data], Coroutine[Any, Any, Errors]]
STEPS: dict[str, tuple[Callable[[Data], vol.Schema], Validator | None]] = {
    "charger": (charger_schema, validate_charger),
    "vehicle": (vehicle_schema, validate_vehicle),
    "energy": (energy_schema, validate_energy),
    "tariff": (tariff_schema, None),
    "tariff_preset": (preset_schema, None),
    "tariff_custom": (custom_schema, validate_custom),
    "tariff_sensor": (sensor_schema, validate_sensor),
    "grid": (grid_schema, validate_grid),
}
CLEARABLE = {
    "charger": (
        CONF_SWITCH,
        CONF_CURRENT,
        CONF_POWER_SENSOR,
        CONF_ENERGY_SENSOR,
        CONF_STATUS_SENSOR,
        CONF_UNIT_ID,
    ),
    "vehicle": (CONF_SOC_SENSOR,),
    "energy": (CONF_PV_POWER, CONF_PV_FORECAST, CONF_HOUSE_POWER),
    "tariff_custom": (CONF_EXPORT_PRICE, CONF_CURRENCY),
    "tariff_sensor": (CONF_EXPORT_SENSOR, CONF_EXPORT_PRICE),
    "grid": (CONF_IMPORT_LIMIT, CONF_EXPORT_LIMIT, CONF_REMOTE_URL),
}


class StepsMixin:
    """The shared steps: show a form, validate, store, go on in `self.order`."""

    hass: HomeAssistant
    values: Data
    order: list[str]

    async def _step(self, step: str, user_input: Data | None) -> ConfigFlowResult:
        schema_fn, validate = STEPS[step]
        errors: Errors = {}
        if user_input is not None:
            candidate = {k: v for k, v in self.values.items() if k not in CLEARABLE.get(step, ())}
            candidate |= _normalise(user_input)
            errors = await validate(self.hass, candidate) if validate else {}
            if not errors:
                self.values = candidate
                return await self._next(step)
        shown = {**self.values, **(user_input or {})}
        return self.async_show_form(step_id=step, data_schema=schema_fn(shown), errors=errors)  # type: ignore[attr-defined,no-any-return]

    async def _next(self, done: str) -> ConfigFlowResult:
        after = self.order[self.order.index(done) + 1 :] if done in self.order else []
        for step in after:
            if step.startswith("tariff_") and step != f"tariff_{self.values.get(CONF_TARIFF_KIND)}":
                continue
            return await getattr(self, f"async_step_{step}")()  # type: ignore[no-any-return]
        return await self._finish()

    async def _finish(self) -> ConfigFlowResult:
        raise NotImplementedError

    async def async_step_charger(self, user_input: Data | None = None) -> ConfigFlowResult:
        return await self._step("charger", user_input)

    async def async_step_vehicle(self, user_input: Data | None = None) -> ConfigFlowResult:
        return await self._step("vehicle", user_input)

    async def async_step_energy(self, user_input: Data | None = None) -> ConfigFlowResult:
        return await self._step("energy", user_input)

    async def async_step_tariff(self, user_input: Data | None = None) -> ConfigFlowResult:
        return await self._step("tariff", user_input)

    async def async_step_tariff_preset(self, user_input: Data | None = None) -> ConfigFlowResult:
        await self.hass.async_add_executor_job(list_presets)  # a directory scan: not in the loop
        return await self._step("tariff_preset", user_input)

    async def async_step_tariff_custom(self, user_input: Data | None = None) -> ConfigFlowResult:
        return await self._step("tariff_custom", user_input)

    async def async_step_tariff_sensor(self, user_input: Data | None = None) -> ConfigFlowResult:
        return await self._step("tariff_sensor", user_input)

    async def async_step_grid(self, user_input: Data | None = None) -> ConfigFlowResult:
        return await self._step("grid", user_input)


def _normalise(user_input: Data) -> Data:
    out = dict(user_input)
    if CONF_PHASES in out:
        out[CONF_PHASES] = int(out[CONF_PHASES])
    return out


ALL_STEPS = [
    "charger",
    "vehicle",
    "energy",
    "tariff",
    "tariff_preset",
    "tariff_custom",
    "tariff_sensor",
    "grid",
]
OPTION_STEPS = ALL_STEPS[1:]


class EvflexConfigFlow(StepsMixin, ConfigFlow, domain=DOMAIN):
    VERSION = 1
    MINOR_VERSION = 2  # 1.2: the charger in data, everything else in options

    def __init__(self) -> None:
        self.values: Data = {}
        self.order = ALL_STEPS
        self._reconfiguring: ConfigEntry | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> EvflexOptionsFlow:
        return EvflexOptionsFlow()

    async def async_step_user(self, user_input: Data | None = None) -> ConfigFlowResult:
        if user_input is not None:
            self.values = dict(user_input)
            return await self.async_step_charger()
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_NAME, default="EVFlex"): sel.TextSelector(),
                    vol.Required(CONF_CHARGER_SOURCE, default=SOURCE_ENTITIES): _choice(
                        list(CHARGER_SOURCES), "charger_source"
                    ),
                }
            ),
        )

    async def async_step_reconfigure(self, user_input: Data | None = None) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        self._reconfiguring = entry
        if user_input is not None:
            self.values = {**entry.data, CONF_CHARGER_SOURCE: user_input[CONF_CHARGER_SOURCE]}
            self.order = ["charger"]
            return await self.async_step_charger()
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_CHARGER_SOURCE, default=entry.data[CONF_CHARGER_SOURCE]
                    ): _choice(list(CHARGER_SOURCES), "charger_source")
                }
            ),
        )

    async def _next(self, done: str) -> ConfigFlowResult:
        if done == "charger" and self._reconfiguring is None:
            # The same charger cannot be added twice (whatever it is called).
            await self.async_set_unique_id(
                charger_id(self.hass, self.values, self.values[CONF_NAME])
            )
            self._abort_if_unique_id_configured()
        return await super()._next(done)

    async def _finish(self) -> ConfigFlowResult:
        entry = self._reconfiguring
        if entry is not None:
            data, _ = split(self.values)
            unique_id = charger_id(self.hass, data, entry.title)
            if any(
                e.unique_id == unique_id and e.entry_id != entry.entry_id
                for e in self.hass.config_entries.async_entries(DOMAIN)
            ):
                return self.async_abort(reason="already_configured")
            # The update listener reloads the entry: the new charger runs at once.
            self.hass.config_entries.async_update_entry(entry, data=data, unique_id=unique_id)
            return self.async_abort(reason="reconfigure_successful")
        title = self.values[CONF_NAME]
        data, options = split(self.values)
        return self.async_create_entry(title=title, data=data, options=options)


DAYS_OFF = "days_off"


def departures_schema(d: Data) -> vol.Schema:
    """Per weekday a time and a target (empty: the daily time and target), days off,
    and a calendar whose events matching a word are departures."""
    try:
        days = Schedule.from_dict(d.get(CONF_SCHEDULE)).days
    except ValueError:
        days = Schedule().days
    fields: dict[Any, Any] = {}
    for name, day in zip(WEEKDAYS, days, strict=True):
        time_key, target_key = name, f"{name}_target"
        fields[vol.Optional(time_key, description={"suggested_value": day.time})] = (
            sel.TimeSelector()
        )
        fields[vol.Optional(target_key, description={"suggested_value": day.target_soc})] = _number(
            0, 100, 1, "%"
        )
    off = [n for n, day in zip(WEEKDAYS, days, strict=True) if not day.leave]
    fields[vol.Optional(DAYS_OFF, default=off)] = sel.SelectSelector(
        sel.SelectSelectorConfig(options=list(WEEKDAYS), multiple=True, translation_key="weekday")
    )
    fields[_optional(CONF_CALENDAR, d)] = _entity("calendar")
    fields[_required(CONF_CALENDAR_WORD, d, DEFAULT_CALENDAR_WORD)] = sel.TextSelector()
    return vol.Schema(fields)


def schedule_of(user_input: Data) -> dict[str, str]:
    """The departures form -> the schedule as options keep it (Schedule.to_dict)."""
    off = set(user_input.get(DAYS_OFF) or [])
    days = []
    for name in WEEKDAYS:
        when = user_input.get(name)
        target = user_input.get(f"{name}_target")
        if name in off:
            days.append(Day(leave=False))
        else:
            hhmm = str(when)[:5] if when else None
            days.append(Day(time=hhmm, target_soc=None if target is None else float(target)))
    return Schedule(tuple(days)).to_dict()


class EvflexOptionsFlow(StepsMixin, OptionsFlow):
    def __init__(self) -> None:
        self.order = OPTION_STEPS
        self.values = {}

    async def async_step_init(self, user_input: Data | None = None) -> ConfigFlowResult:
        self.values = {**self.config_entry.data, **self.config_entry.options}
        return self.async_show_menu(
            step_id="init", menu_options=["vehicle", "departures", "dispatch"]
        )

    async def async_step_departures(self, user_input: Data | None = None) -> ConfigFlowResult:
        """The weekly departures and the calendar (applied without a reload)."""
        if user_input is not None:
            entity = user_input.get(CONF_CALENDAR)
            if entity and self.hass.states.get(entity) is None:
                return self.async_show_form(
                    step_id="departures",
                    data_schema=departures_schema({**self.values, **user_input}),
                    errors={CONF_CALENDAR: "entity_not_found"},
                )
            self.values |= {
                CONF_SCHEDULE: schedule_of(user_input),
                CONF_CALENDAR: entity or None,
                CONF_CALENDAR_WORD: user_input.get(CONF_CALENDAR_WORD) or DEFAULT_CALENDAR_WORD,
            }
            return await self._finish()
        return self.async_show_form(
            step_id="departures", data_schema=departures_schema(self.values)
        )

    async def _finish(self) -> ConfigFlowResult:
        _, options = split(self.values)  # options only: the charger stays the entry's data
        return self.async_create_entry(data=options)

    # --- dispatch: the URLs, who may send, who wins, the reward, a new secret --------

    _credential: str | None = None  # created this step, shown once in the next form

    async def async_step_dispatch(self, user_input: Data | None = None) -> ConfigFlowResult:
        return await self._dispatch_step(user_input)

    async def async_step_dispatch_first(self, user_input: Data | None = None) -> ConfigFlowResult:
        """The same form, while no secret (or token) of the mode has ever been shown."""
        return await self._dispatch_step(user_input)

    async def _dispatch_step(self, user_input: Data | None) -> ConfigFlowResult:
        dispatch = _dispatch_of(self.config_entry)
        if dispatch is None:
            return self.async_abort(reason="not_loaded")
        errors: Errors = {}
        if user_input is not None:
            terms = {k: user_input.get(k, 0) for k in REWARD_KEYS}
            errors = validate_terms(terms)
            mode = user_input.get(CONF_DISPATCH_AUTH, AUTH_STANDARD_WEBHOOKS)
            if (
                mode == AUTH_BEARER
                and dispatch.token is None
                and not user_input.get(NEW_CREDENTIAL)
            ):
                # Saved so, every request would be refused, the signed ones too.
                errors[NEW_CREDENTIAL] = "token_required"
            elif (
                mode == AUTH_STANDARD_WEBHOOKS
                and dispatch.auth_mode == AUTH_BEARER
                and AUTH_STANDARD_WEBHOOKS not in dispatch.shown
                and not user_input.get(NEW_CREDENTIAL)
            ):  # the secret in force is the one made at set-up: nobody has it
                errors[NEW_CREDENTIAL] = "secret_required"
            if not errors:
                self.values |= {
                    CONF_DISPATCH_AUTH: mode,
                    CONF_DISPATCH_DRIVER_FIRST: bool(
                        user_input.get(CONF_DISPATCH_DRIVER_FIRST, True)
                    ),
                    **TERMS_SCHEMA(terms),
                }
                if user_input.get(NEW_CREDENTIAL):
                    self._credential = await dispatch.async_new_credential(mode)
                    return await self.async_step_dispatch_secret()
                return await self._finish()
        shown = {**self.values, **(user_input or {})}
        mode = shown.get(CONF_DISPATCH_AUTH) or AUTH_STANDARD_WEBHOOKS
        urls = dispatch.urls
        return self.async_show_form(
            step_id="dispatch" if mode in dispatch.shown else "dispatch_first",
            data_schema=dispatch_schema(shown),
            errors=errors,
            description_placeholders={
                "local_url": urls.get("local", "-"),
                "cloud_url": urls.get("cloud", "-"),
                # The terms are in the earnings' currency once they have one.
                "currency": dispatch.earnings.currency or self.hass.config.currency,
            },
        )

    async def async_step_dispatch_secret(self, user_input: Data | None = None) -> ConfigFlowResult:
        """The new secret or token, once (already in force); submitting saves the options."""
        if user_input is not None or self._credential is None:
            return await self._finish()
        value, self._credential = self._credential, None  # the flow keeps no copy
        bearer = self.values.get(CONF_DISPATCH_AUTH) == AUTH_BEARER
        return self.async_show_form(
            step_id="dispatch_token" if bearer else "dispatch_secret",
            data_schema=vol.Schema({}),
            description_placeholders={"secret": value},
        )

    async def async_step_dispatch_token(self, user_input: Data | None = None) -> ConfigFlowResult:
        return await self.async_step_dispatch_secret(user_input)


NEW_CREDENTIAL = "new_credential"


def dispatch_schema(d: Data) -> vol.Schema:
    return vol.Schema(
        {
            _required(CONF_DISPATCH_AUTH, d, AUTH_STANDARD_WEBHOOKS): _choice(
                list(DISPATCH_AUTHS), "dispatch_auth"
            ),
            _required(CONF_DISPATCH_DRIVER_FIRST, d, True): sel.BooleanSelector(),
            _required(CONF_REWARD_MONTHLY, d, 0): _number(0, MAX_AMOUNT),
            _required(CONF_REWARD_PER_KW, d, 0): _number(0, MAX_AMOUNT),
            _required(CONF_REWARD_PER_KWH, d, 0): _number(0, MAX_AMOUNT),
            vol.Required(NEW_CREDENTIAL, default=False): sel.BooleanSelector(),
        }
    )


def _dispatch_of(entry: ConfigEntry) -> Any:
    """The entry's running dispatch (None when the entry is not loaded)."""
    coordinator = getattr(entry, "runtime_data", None)
    return getattr(coordinator, "dispatch", None)
