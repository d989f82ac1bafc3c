"""The plan card is served by the integration and registered with the frontend."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.evflex.card import CARD_URL, async_register_card
from custom_components.evflex.const import DOMAIN

CARD = Path(__file__).parents[3] / "custom_components" / "evflex" / "frontend"


async def test_without_a_web_server_nothing_is_served(hass: HomeAssistant) -> None:
    assert getattr(hass, "http", None) is None
    assert await async_register_card(hass) is None


async def test_the_card_is_served_and_registered(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, "http", {})
    hass.config.components.add("frontend")  # loaded before EVFlex (after_dependencies)
    with patch("homeassistant.components.frontend.add_extra_js_url") as add:
        assert await async_setup_component(hass, DOMAIN, {})
        await hass.async_block_till_done()
    add.assert_called_once_with(hass, f"{CARD_URL}?v=0.1.0")
    client = await hass_client()
    resp = await client.get(CARD_URL)
    assert resp.status == 200
    assert "javascript" in resp.headers["Content-Type"]
    body = await resp.text()
    assert body == (CARD / "evflex-plan-card.js").read_text(encoding="utf-8")
    assert 'customElements.define("evflex-plan-card"' in body
    # Not cached for good: a new release's card reaches the browser.
    assert "immutable" not in resp.headers.get("Cache-Control", "")
    missing = await client.get(f"/{DOMAIN}/nothing.js")
    assert missing.status == 404
