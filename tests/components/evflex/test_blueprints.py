"""The blueprints are valid for Home Assistant and do what they say."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.components import automation
from homeassistant.components.blueprint import models
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service

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


async def test_notify_when_target_at_risk(hass: HomeAssistant) -> None:
    calls = async_mock_service(hass, "notify", "phone")
    await _use(
        hass, "notify_target_at_risk.yaml", {"evflex_entry": "abc", "notify_action": "notify.phone"}
    )
    hass.bus.async_fire(
        EVENT_TARGET_AT_RISK,
        {"config_entry_id": "abc", "shortfall_kwh": 7.26, "departure": "2026-11-30T07:30:00+00:00"},
    )
    hass.bus.async_fire(EVENT_TARGET_AT_RISK, {"config_entry_id": "other", "shortfall_kwh": 1})
    await hass.async_block_till_done()
    assert len(calls) == 1
    assert calls[0].data["message"].startswith("7.3 kWh will be missing at ")


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
