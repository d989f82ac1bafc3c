"""The blueprints are valid for Home Assistant and do what they say."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import automation
from homeassistant.components.blueprint import models
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
    setup_test_component_platform,
)

from custom_components.evflex.const import EVENT_TARGET_AT_RISK

BLUEPRINTS = Path(__file__).parents[3] / "blueprints" / "automation" / "evflex"


@pytest.mark.parametrize("path", sorted(BLUEPRINTS.glob("*.yaml")), ids=lambda p: p.name)
def test_blueprint_is_valid(path: Path) -> None:
    blueprint = Blueprint(
        load_yaml_dict(str(path)),
        expected_domain="automation",
        schema=automation.config.AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.validate() is None


async def _use(hass: HomeAssistant, name: str, inputs: dict[str, Any]) -> None:
    def load(self: models.DomainBlueprints, blueprint_path: str) -> Blueprint:
        return Blueprint(
            load_yaml_dict(str(BLUEPRINTS / name)),
            expected_domain=self.domain,
            path=blueprint_path,
            schema=automation.config.AUTOMATION_BLUEPRINT_SCHEMA,
        )

    with patch.object(models.DomainBlueprints, "_load_blueprint", load):
        assert await async_setup_component(
            hass,
            "automation",
            {"automation": {"use_blueprint": {"path": f"evflex/{name}", "input": inputs}}},
        )
        await hass.async_block_till_done()


async def test_notify_when_target_at_risk_with_the_reason_and_a_boost(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    calls = async_mock_service(hass, "notify", "phone")
    await _use(
        hass,
        "notify_target_at_risk.yaml",
        {"evflex_entry": entry.entry_id, "notify_action": "notify.phone", "boost_minutes": 90},
    )
    hass.bus.async_fire(
        EVENT_TARGET_AT_RISK,
        {
            "config_entry_id": entry.entry_id,
            "shortfall_kwh": 7.26,
            "departure": "2026-11-29T23:30:00+00:00",
            "target_soc": 80.0,
            "soc_at_departure": 67.9,
            "reason": "limit: import_limit",
        },
    )
    hass.bus.async_fire(EVENT_TARGET_AT_RISK, {"config_entry_id": "other", "shortfall_kwh": 1})
    await hass.async_block_till_done()
    assert len(calls) == 1
    # 23:30 UTC is 07:30 in Shanghai.
    assert " ".join(calls[0].data["message"].split()) == (
        "7.3 kWh will be missing at 07:30 (68% of 80%): a grid limit applies: import_limit."
    )
    action = f"EVFLEX_BOOST_{entry.entry_id}"
    assert calls[0].data["data"]["actions"] == [{"action": action, "title": "Boost now"}]
    # The phone's "Boost now": the boost runs, for 90 minutes.
    hass.bus.async_fire("mobile_app_notification_action", {"action": "SOMETHING_ELSE"})
    await hass.async_block_till_done()
    assert entry.runtime_data.home.session.boost_until is None
    hass.bus.async_fire("mobile_app_notification_action", {"action": action})
    await hass.async_block_till_done()
    until = entry.runtime_data.home.session.boost_until
    assert until == dt_util.utcnow() + timedelta(minutes=90)


async def test_boost_from_a_button(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    hass.states.async_set("event.hall_button", "2026-11-29T09:00:00+00:00")
    await _use(
        hass,
        "boost_from_button.yaml",
        {"evflex_entry": entry.entry_id, "button": "event.hall_button", "minutes": 45},
    )
    hass.states.async_set("event.hall_button", "unavailable")
    await hass.async_block_till_done()
    assert entry.runtime_data.home.session.boost_until is None
    hass.states.async_set("event.hall_button", "2026-11-29T10:00:00+00:00")  # pressed
    await hass.async_block_till_done()
    assert entry.runtime_data.home.session.boost_until == dt_util.utcnow() + timedelta(minutes=45)


async def test_solar_only_while_the_home_battery_is_high(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    hass.states.async_set("sensor.home_battery", "60")
    await _use(
        hass,
        "solar_while_battery_high.yaml",
        {"evflex_entry": entry.entry_id, "level_sensor": "sensor.home_battery", "above": 80},
    )
    assert hass.states.get("select.garage_charging_mode").state == "smart"
    hass.states.async_set("sensor.home_battery", "85")
    await hass.async_block_till_done()
    assert hass.states.get("select.garage_charging_mode").state == "solar_only"
    hass.states.async_set("sensor.home_battery", "79")
    await hass.async_block_till_done()
    assert hass.states.get("select.garage_charging_mode").state == "smart"


async def test_departure_from_a_calendar_event(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    from .test_departures import Diary, _event

    zone = dt_util.get_default_time_zone()
    diary = Diary(
        [
            _event(datetime(2026, 11, 30, 8, 0, tzinfo=zone), "Dentist"),
            _event(datetime(2026, 11, 30, 9, 0, tzinfo=zone), "EV: drive to Suzhou"),
        ]
    )
    setup_test_component_platform(hass, "calendar", [diary])
    assert await async_setup_component(hass, "calendar", {"calendar": {"platform": "test"}})
    await hass.async_block_till_done()
    await _use(
        hass,
        "departure_from_calendar.yaml",
        {
            "evflex_entry": entry.entry_id,
            "calendar": "calendar.diary",
            "word": "ev",
            "ahead": "-12:00:00",
            "minutes_before": 30,
        },
    )
    # 18:00 local now; the trip at 09:00 tomorrow is 15 h ahead: 12 h before is 21:00.
    for _ in range(4 * 4):  # 4 hours in 15-minute steps (the calendar trigger's poll)
        freezer.tick(timedelta(minutes=15))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    departure = hass.states.get("sensor.garage_next_departure")
    # 09:00 - 30 min = 08:30 Shanghai = 00:30 UTC on the 30th, a one-off.
    assert departure.state == "2026-11-30T00:30:00+00:00"
    assert departure.attributes["source"] == "override"


async def test_departure_follows_the_alarm(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await _use(
        hass,
        "departure_from_alarm.yaml",
        {
            "evflex_entry": entry.entry_id,
            "alarm_sensor": "sensor.phone_next_alarm",
            "minutes_after": 45,
        },
    )
    hass.states.async_set(
        "sensor.phone_next_alarm", "2026-11-29T22:30:00+00:00", {"device_class": "timestamp"}
    )
    await hass.async_block_till_done()
    # 22:30 UTC is 06:30 in Shanghai; 45 minutes later.
    assert hass.states.get("time.garage_departure").state == "07:15:00"


async def test_notify_about_a_grid_event_and_what_was_delivered(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    calls = async_mock_service(hass, "notify", "phone")
    await _use(
        hass,
        "notify_grid_event.yaml",
        {"evflex_entry": entry.entry_id, "notify_action": "notify.phone"},
    )
    window = {"start": "2026-11-29T10:00:00+00:00", "end": "2026-11-29T12:00:00+00:00"}
    hass.bus.async_fire(
        "evflex_dispatch_received",
        {
            "config_entry_id": entry.entry_id,
            "event_id": "feeder-7",
            "status": "partially_accepted",
            "operation": "created",
            **window,
        },
    )
    hass.bus.async_fire(
        "evflex_dispatch_ended",
        {
            "config_entry_id": entry.entry_id,
            "event_id": "feeder-7",
            "delivered_kw": 2.5,
            "delivered_kwh": 5.04,
            **window,
        },
    )
    hass.bus.async_fire("evflex_dispatch_received", {"config_entry_id": "other", **window})
    await hass.async_block_till_done()
    # 10:00-12:00 UTC is 18:00-20:00 in Shanghai.
    assert [" ".join(c.data["message"].split()) for c in calls] == [
        "feeder-7 (18:00-20:00): EVFlex accepted part of it (the departure comes first).",
        "feeder-7 (18:00-20:00): the car delivered 5.0 kWh (2.5 kW) against its plan.",
    ]
