"""The plan card (frontend/evflex-plan-card.js): served by the integration and loaded by
the frontend on every page (no resource to add, no build step).

`frontend.add_extra_js_url` is the frontend's way for an integration to load a module
(the same in Home Assistant 2025.4 and 2026.x); the URL carries the version, so a new
release is not hidden by the browser's cache.
"""

from __future__ import annotations

import logging
from pathlib import Path

from homeassistant.core import HomeAssistant

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)
CARD_FILE = Path(__file__).parent / "frontend" / "evflex-plan-card.js"
CARD_URL = f"/{DOMAIN}/evflex-plan-card.js"
VERSION = "0.1.0"


async def async_register_card(hass: HomeAssistant) -> str | None:
    """Serve the card and have the frontend load it; its URL (None without HTTP)."""
    if getattr(hass, "http", None) is None:
        return None  # no web server (a test, or a headless set-up): nothing to serve
    from homeassistant.components.http import StaticPathConfig

    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=False)]
    )
    url = f"{CARD_URL}?v={VERSION}"
    if "frontend" in hass.config.components:
        from homeassistant.components.frontend import add_extra_js_url

        add_extra_js_url(hass, url)
    else:
        _LOGGER.debug("No frontend loaded: the plan card is served at %s only", CARD_URL)
    return url
