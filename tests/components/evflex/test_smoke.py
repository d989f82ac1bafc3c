from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry


async def test_setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    states = sorted(s.entity_id + "=" + s.state for s in hass.states.async_all())
    print("\n".join(states))
    assert hass.states.get("sensor.garage_plan_status") is not None
