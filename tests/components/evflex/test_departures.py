"""Departures in Home Assistant: the schedule action and options, the one-off override,
the calendar source; the departure in force and its source in an entity and the plan.

Sunday 29 Nov 2026, 18:00 in Shanghai (10:00 UTC; UTC+8 all year): the daily
departure is 07:30, i.e. Sunday 23:30 UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.calendar import CalendarEntity, CalendarEvent
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    setup_test_component_platform,
)

from custom_components.evflex.const import DOMAIN
from custom_components.evflex.home import at_risk_reason

from .conftest import advance, make_entry


async def _call(hass: HomeAssistant, action: str, data: dict[str, Any]) -> None:
    await hass.services.async_call(
        DOMAIN, action, {"config_entry_id": "garage-entry", **data}, blocking=True
    )
    await hass.async_block_till_done()


def _departure(hass: HomeAssistant) -> tuple[str, dict[str, Any]]:
    state = hass.states.get("sensor.garage_next_departure")
    assert state is not None
    return state.state, dict(state.attributes)


def _plan(hass: HomeAssistant) -> dict[str, Any]:
    state = hass.states.get("sensor.garage_plan_status")
    assert state is not None
    return dict(state.attributes)


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("set_schedule", {"monday": "25:00"}, "Invalid monday: must be"),
        ("set_schedule", {"monday": "06:30 150%"}, "Invalid monday: must be between 0 and 100"),
        ("set_schedule", {"calendar": "sensor.x"}, "Invalid calendar"),
        ("set_departure_override", {}, "Invalid departure: required unless clear is true"),
        (
            "set_departure_override",
            {"departure": "2026-11-29 17:00:00"},
            "Invalid departure: must be after now",
        ),
        ("set_departure_override", {"departure": "soon"}, "Invalid departure"),
    ],
)
async def test_bad_departures_name_the_field(
    hass: HomeAssistant, entry: MockConfigEntry, action: str, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, action, data)
    assert str(err.value).startswith(message)


async def test_the_daily_time_shows_as_the_departure_and_in_the_plan(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    state, attrs = _departure(hass)
    assert state == "2026-11-29T23:30:00+00:00"
    assert attrs["source"] == "daily"
    assert attrs["target_soc"] == 80.0
    plan = _plan(hass)
    assert plan["departure"] == "2026-11-30T07:30:00+08:00"
    assert plan["departure_source"] == "daily"
    assert plan["target_soc"] == 80.0
    # Every slot carries what the card draws; 18:00 to 07:30 is 54 slots of 15 minutes.
    assert len(plan["slots"]) == 54
    assert set(plan["slots"][0]) >= {"start", "end", "ev_kw", "pv_kw", "house_kw", "soc_pct"}


async def test_set_schedule_applies_without_a_reload_and_survives_a_restart(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    coordinator = entry.runtime_data
    await _call(hass, "set_schedule", {"monday": "06:00 90%", "sunday": "off"})
    assert entry.runtime_data is coordinator  # applied live, not reloaded
    assert entry.options["departure_schedule"] == {"monday": "06:00 90%", "sunday": "off"}
    # Monday 06:00 in Shanghai = Sunday 22:00 UTC, with Monday's own target.
    state, attrs = _departure(hass)
    assert state == "2026-11-29T22:00:00+00:00"
    assert (attrs["source"], attrs["target_soc"]) == ("schedule", 90.0)
    plan = _plan(hass)
    assert plan["departure"] == "2026-11-30T06:00:00+08:00"
    assert plan["target_soc"] == 90.0
    # The plan charges to 90 % (30 % -> 90 % of 60 kWh = 36 kWh, efficiency 1).
    request = entry.runtime_data.data.request
    assert request["vehicle"]["target_soc_pct"] == 90.0
    # Only Tuesday changes; Monday and Sunday are kept.
    await _call(hass, "set_schedule", {"tuesday": "off"})
    assert entry.options["departure_schedule"] == {
        "monday": "06:00 90%",
        "tuesday": "off",
        "sunday": "off",
    }
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert _departure(hass)[0] == "2026-11-29T22:00:00+00:00"


async def test_a_one_off_departure_wins_and_clears(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    # "Tomorrow 05:45" local = Sunday 21:45 UTC.
    await _call(hass, "set_departure_override", {"departure": "2026-11-30 05:45", "target_soc": 70})
    state, attrs = _departure(hass)
    assert state == "2026-11-29T21:45:00+00:00"
    assert (attrs["source"], attrs["target_soc"]) == ("override", 70.0)
    assert attrs["override"] == "2026-11-30T05:45:00+08:00"
    assert _plan(hass)["departure_source"] == "override"
    await _call(hass, "set_departure_override", {"clear": True})
    assert _departure(hass)[0] == "2026-11-29T23:30:00+00:00"


async def test_the_override_survives_a_restart(
    hass: HomeAssistant, entry: MockConfigEntry, no_store_delay: None
) -> None:
    await _call(hass, "set_departure_override", {"departure": "2026-11-30T05:45:00+08:00"})
    await hass.async_block_till_done()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    state, attrs = _departure(hass)
    assert (state, attrs["source"]) == ("2026-11-29T21:45:00+00:00", "override")


class Diary(CalendarEntity):
    """A calendar with fixed events (what calendar.get_events answers from)."""

    _attr_name = "Diary"

    def __init__(self, events: list[CalendarEvent]) -> None:
        self._events = events

    @property
    def event(self) -> CalendarEvent | None:
        return self._events[0] if self._events else None

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        return [e for e in self._events if e.end_datetime_local > start_date]


def _event(start: datetime, summary: str) -> CalendarEvent:
    return CalendarEvent(start=start, end=start + timedelta(hours=1), summary=summary)


async def test_calendar_events_matching_the_word_are_departures(
    hass: HomeAssistant, shanghai: None, evening: datetime, freezer: FrozenDateTimeFactory
) -> None:
    zone = dt_util.get_default_time_zone()
    diary = Diary(
        [
            _event(datetime(2026, 11, 30, 5, 0, tzinfo=zone), "EV airport 95%"),
            _event(datetime(2026, 11, 30, 4, 0, tzinfo=zone), "Gym"),  # no match
            CalendarEvent(  # all day: no time to leave at
                start=datetime(2026, 11, 30).date(),
                end=datetime(2026, 12, 1).date(),
                summary="EV service",
            ),
        ]
    )
    setup_test_component_platform(hass, "calendar", [diary])
    assert await async_setup_component(hass, "calendar", {"calendar": {"platform": "test"}})
    await hass.async_block_till_done()
    entry = make_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "departures"}
    )
    assert result["step_id"] == "departures"
    bad = await hass.config_entries.options.async_configure(
        result["flow_id"], {"departure_calendar": "calendar.nothing", "days_off": []}
    )
    assert bad["errors"] == {"departure_calendar": "entity_not_found"}
    done = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "saturday": "10:00:00",
            "saturday_target": 100,
            "days_off": ["sunday"],
            "departure_calendar": "calendar.diary",
            "departure_calendar_word": "ev",
        },
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options["departure_schedule"] == {"saturday": "10:00 100%", "sunday": "off"}
    assert entry.options["departure_calendar"] == "calendar.diary"
    await advance(hass, freezer, 1)
    # The event at 05:00 local (Sunday 21:00 UTC) is before the daily 07:30: it wins,
    # with the target in its title.
    state, attrs = _departure(hass)
    assert state == "2026-11-29T21:00:00+00:00"
    assert (attrs["source"], attrs["target_soc"], attrs["label"]) == (
        "calendar",
        95.0,
        "EV airport 95%",
    )
    assert _plan(hass)["departure"] == "2026-11-30T05:00:00+08:00"


def test_the_at_risk_reason() -> None:
    assert at_risk_reason("solar_only", {"binding": []}) == "solar_only"
    assert at_risk_reason("smart", {"binding": ["import_limit"]}) == "limit: import_limit"
    assert at_risk_reason("smart", {}) == "too_little_time"
