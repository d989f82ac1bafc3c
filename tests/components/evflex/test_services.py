"""Actions: get_plan, set_session, boost, cancel_boost; bad input is a ServiceValidationError."""

from __future__ import annotations

from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.evflex.const import DOMAIN, EVENT_PLAN_UPDATED, EVENT_TARGET_AT_RISK

from .conftest import advance


async def _call(
    hass: HomeAssistant, service: str, data: dict[str, Any], response: bool = False
) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


async def test_get_plan_returns_the_plan(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await _call(hass, "get_plan", {"config_entry_id": entry.entry_id}, response=True)
    plan = result["plan"]
    assert plan["status"] == "ok"
    assert plan["summary"]["cost"] == pytest.approx(30.0 * 0.307, abs=1e-6)
    assert result["request"]["vehicle"]["departure"] == "2026-11-30T07:30:00+08:00"
    assert result["source"] == "local"
    assert result["reason"] == "waiting_for_cheap_hours"


async def test_set_session_replans(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    updated = async_capture_events(hass, EVENT_PLAN_UPDATED)
    at_risk = async_capture_events(hass, EVENT_TARGET_AT_RISK)
    await _call(
        hass,
        "set_session",
        {"config_entry_id": entry.entry_id, "departure": "19:00", "target_soc": 90, "min_soc": 10},
    )
    assert hass.states.get("time.garage_departure").state == "19:00:00"
    assert hass.states.get("number.garage_target_state_of_charge").state == "90.0"
    # One hour at 11.04 kW cannot add 36 kWh: the plan says so, and an event tells automations.
    assert hass.states.get("sensor.garage_plan_status").state == "target_at_risk"
    assert float(hass.states.get("sensor.garage_shortfall").state) == pytest.approx(
        36 - 11.04, abs=0.01
    )
    assert len(updated) == 1
    assert len(at_risk) == 1
    assert at_risk[0].data["departure"] == "2026-11-29T19:00:00+08:00"
    await _call(hass, "set_session", {"config_entry_id": entry.entry_id, "mode": "off"})
    assert hass.states.get("sensor.garage_plan_status").state == "off"


@pytest.mark.parametrize(
    ("service", "data", "message"),
    [
        ("set_session", {"target_soc": 120}, "Invalid target_soc: value must be at most 100"),
        ("set_session", {"mode": "turbo"}, "Invalid mode: value must be one of"),
        ("set_session", {"departure": "25:99"}, "Invalid departure: Invalid time specified"),
        (
            "set_session",
            {"min_soc": 90},
            "The minimum state of charge (90%) must not exceed the target (80%)",
        ),
        ("set_session", {"colour": "red"}, "Invalid colour: unknown field"),
        ("boost", {"duration": "00:00:10"}, "Invalid duration: value must be at least 0:01:00"),
        (
            "boost",
            {"duration": "01:00:00", "energy_kwh": 5},
            "Invalid energy_kwh: give a duration or an energy, not both",
        ),
        ("boost", {"energy_kwh": -1}, "Invalid energy_kwh: value must be at least 0.1"),
    ],
)
async def test_bad_input_raises_service_validation_error(
    hass: HomeAssistant, entry: MockConfigEntry, service: str, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await _call(hass, service, {"config_entry_id": entry.entry_id, **data})
    assert message in str(caught.value)


async def test_unknown_or_unloaded_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    with pytest.raises(ServiceValidationError, match="No EVFlex entry with the id nope"):
        await _call(hass, "get_plan", {"config_entry_id": "nope"}, response=True)
    with pytest.raises(ServiceValidationError, match="Invalid config_entry_id: is required"):
        await _call(hass, "cancel_boost", {})
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError, match="Garage is not loaded"):
        await _call(hass, "get_plan", {"config_entry_id": entry.entry_id}, response=True)


async def test_boost_by_energy_then_back_to_the_plan(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    await _call(hass, "boost", {"config_entry_id": entry.entry_id, "energy_kwh": 2.0})
    assert hass.states.get("sensor.garage_plan_status").state == "boost"
    assert hass.states.get("sensor.garage_current_limit").state == "16.0"
    # 2 kWh at 11.04 kW: about 11 minutes, then the plan (peak price: wait) again.
    await advance(hass, freezer, 12)
    assert float(hass.states.get("sensor.garage_session_energy").state) == pytest.approx(
        2.0, abs=0.2
    )
    assert hass.states.get("sensor.garage_current_limit").state == "0.0"
    assert hass.states.get("sensor.garage_plan_status").state == "waiting_for_cheap_hours"


async def test_boost_by_duration_and_cancel(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    await _call(hass, "boost", {"config_entry_id": entry.entry_id, "duration": {"minutes": 30}})
    await advance(hass, freezer, 5)
    assert hass.states.get("sensor.garage_current_limit").state == "16.0"
    await _call(hass, "cancel_boost", {"config_entry_id": entry.entry_id})
    assert hass.states.get("sensor.garage_current_limit").state == "0.0"
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.garage_boost_for_an_hour"}, blocking=True
    )
    await advance(hass, freezer, 61)
    assert hass.states.get("sensor.garage_plan_status").state == "waiting_for_cheap_hours"
