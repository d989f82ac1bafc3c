"""Actions: evflex.get_plan, evflex.set_session, evflex.boost, evflex.cancel_boost,
evflex.set_schedule (the weekly departures), evflex.set_departure_override (a one-off).

Each names its config entry (`config_entry_id`). Input is validated here, so any
bad field raises ServiceValidationError naming the field and the rule, on every
Home Assistant version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, time, timedelta
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util

from .const import CONF_CALENDAR, CONF_CALENDAR_WORD, CONF_SCHEDULE, DOMAIN, MODES
from .controls import async_boost, async_cancel_boost, async_update_session
from .coordinator import EvflexCoordinator
from .optimizer.validation import first_error
from .schedule import WEEKDAYS, Override, Schedule

ATTR_ENTRY = "config_entry_id"

PERCENT = vol.All(vol.Coerce(float), vol.Range(min=0, max=100))
GET_PLAN = vol.Schema({vol.Required(ATTR_ENTRY): cv.string})
SET_SESSION = vol.Schema(
    {
        vol.Required(ATTR_ENTRY): cv.string,
        vol.Optional("departure"): cv.time,
        vol.Optional("target_soc"): PERCENT,
        vol.Optional("min_soc"): PERCENT,
        vol.Optional("mode"): vol.In(MODES),
    }
)
BOOST = vol.Schema(
    {
        vol.Required(ATTR_ENTRY): cv.string,
        vol.Optional("duration"): vol.All(
            cv.time_period, vol.Range(min=timedelta(minutes=1), max=timedelta(hours=24))
        ),
        vol.Optional("energy_kwh"): vol.All(vol.Coerce(float), vol.Range(min=0.1, max=200)),
    }
)

_DAYS: dict[Any, Any] = {vol.Optional(day): cv.string for day in WEEKDAYS}
SET_SCHEDULE = vol.Schema(
    {
        vol.Required(ATTR_ENTRY): cv.string,
        **_DAYS,
        vol.Optional("calendar"): vol.Any(None, "", cv.entity_domain("calendar")),
        vol.Optional("calendar_word"): vol.All(cv.string, vol.Length(min=1, max=40)),
    }
)
SET_OVERRIDE = vol.Schema(
    {
        vol.Required(ATTR_ENTRY): cv.string,
        vol.Optional("departure"): cv.datetime,
        vol.Optional("target_soc"): PERCENT,
        vol.Optional("clear", default=False): cv.boolean,
    }
)


def _invalid(err: vol.Invalid) -> ServiceValidationError:
    field, rule = first_error(err)
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="invalid_field",
        translation_placeholders={"field": field or "data", "rule": rule},
    )


def _coordinator(hass: HomeAssistant, entry_id: str) -> EvflexCoordinator:
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_entry",
            translation_placeholders={"entry": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"entry": entry.title},
        )
    coordinator: EvflexCoordinator = entry.runtime_data
    return coordinator


Handler = Callable[[EvflexCoordinator, dict[str, Any]], Awaitable[ServiceResponse]]


def _validated(
    hass: HomeAssistant, schema: vol.Schema, handler: Handler
) -> Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]:
    async def call(call: ServiceCall) -> ServiceResponse:
        try:
            data = schema(dict(call.data))
        except vol.Invalid as err:
            raise _invalid(err) from err
        return await handler(_coordinator(hass, data[ATTR_ENTRY]), data)

    return call


async def _get_plan(coordinator: EvflexCoordinator, data: dict[str, Any]) -> ServiceResponse:
    state = coordinator.data
    return {
        "plan": state.plan if state else None,
        "request": state.request if state else None,
        "source": state.source if state else None,
        "reason": state.reason if state else None,
    }


async def _set_session(coordinator: EvflexCoordinator, data: dict[str, Any]) -> ServiceResponse:
    session = coordinator.home.session.settings
    changes: dict[str, Any] = {k: data[k] for k in ("target_soc", "min_soc", "mode") if k in data}
    if isinstance(data.get("departure"), time):
        changes["departure"] = data["departure"].strftime("%H:%M")
    target = changes.get("target_soc", session.target_soc)
    minimum = changes.get("min_soc", session.min_soc)
    if minimum > target:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="min_above_target",
            translation_placeholders={"min": f"{minimum:g}", "target": f"{target:g}"},
        )
    await async_update_session(coordinator, **changes)
    return None


async def _boost(coordinator: EvflexCoordinator, data: dict[str, Any]) -> ServiceResponse:
    if "duration" in data and "energy_kwh" in data:
        raise _invalid(vol.Invalid("give a duration or an energy, not both", path=["energy_kwh"]))
    await async_boost(coordinator, duration=data.get("duration"), energy_kwh=data.get("energy_kwh"))
    return None


def _rule(err: ValueError) -> ServiceValidationError:
    """A domain rule broken ("field: rule"), as the action's error."""
    field, _, rule = str(err).partition(": ")
    return _invalid(vol.Invalid(rule or str(err), path=[field]))


async def _set_schedule(coordinator: EvflexCoordinator, data: dict[str, Any]) -> ServiceResponse:
    entry = coordinator.config_entry
    options = dict(entry.options)
    try:
        current = Schedule.from_dict(options.get(CONF_SCHEDULE))
        schedule = current.updated({d: data[d] for d in WEEKDAYS if d in data})
    except ValueError as err:
        raise _rule(err) from err
    options[CONF_SCHEDULE] = schedule.to_dict()
    if "calendar" in data:
        options[CONF_CALENDAR] = data["calendar"] or None
    if "calendar_word" in data:
        options[CONF_CALENDAR_WORD] = data["calendar_word"]
    # The update listener applies a new schedule at once, without a reload.
    coordinator.hass.config_entries.async_update_entry(entry, options=options)
    return None


async def _set_override(coordinator: EvflexCoordinator, data: dict[str, Any]) -> ServiceResponse:
    if data["clear"]:
        await coordinator.home.async_set_override(None)
        return None
    when = data.get("departure")
    if not isinstance(when, datetime):
        raise _invalid(vol.Invalid("required unless clear is true", path=["departure"]))
    if when.tzinfo is None:  # a local wall time, as the UI's date-time picker gives it
        when = when.replace(tzinfo=dt_util.get_default_time_zone())
    try:
        await coordinator.home.async_set_override(Override(when, data.get("target_soc")))
    except ValueError as err:
        raise _rule(err) from err
    return None


async def _cancel(coordinator: EvflexCoordinator, data: dict[str, Any]) -> ServiceResponse:
    await async_cancel_boost(coordinator)
    return None


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    hass.services.async_register(
        DOMAIN,
        "get_plan",
        _validated(hass, GET_PLAN, _get_plan),
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(DOMAIN, "set_session", _validated(hass, SET_SESSION, _set_session))
    hass.services.async_register(DOMAIN, "boost", _validated(hass, BOOST, _boost))
    hass.services.async_register(DOMAIN, "cancel_boost", _validated(hass, GET_PLAN, _cancel))
    hass.services.async_register(
        DOMAIN, "set_schedule", _validated(hass, SET_SCHEDULE, _set_schedule)
    )
    hass.services.async_register(
        DOMAIN, "set_departure_override", _validated(hass, SET_OVERRIDE, _set_override)
    )
