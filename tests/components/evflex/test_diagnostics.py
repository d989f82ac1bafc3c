"""Diagnostics: everything needed to replay a plan, with secrets and location redacted."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from optimizer import plan

from .conftest import make_entry


async def test_diagnostics_redact_and_replay(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    shanghai: None,
    socket_enabled: None,
) -> None:
    entry = make_entry(remote_url="http://user:secret@127.0.0.1:9")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["entry"]["options"]["remote_url"] == "**REDACTED**"
    assert diagnostics["entry"]["title"] == "**REDACTED**"
    assert diagnostics["location"] == {"latitude": "**REDACTED**", "longitude": "**REDACTED**"}
    assert "secret" not in str(diagnostics)
    assert diagnostics["session"]["settings"]["target_soc"] == 80
    assert diagnostics["charger"]["status"] == "connected"
    # The request in diagnostics plans the same again, anywhere.
    replay = plan(diagnostics["request"])
    assert replay["summary"]["cost"] == diagnostics["plan"]["summary"]["cost"]
    assert isinstance(entry, MockConfigEntry)
