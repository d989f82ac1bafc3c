"""Diagnostics: the configuration, the last request and plan, the counters; secrets redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_REMOTE_URL
from .coordinator import EvflexConfigEntry

# The companion URL may carry credentials; the request carries no location, but the
# time zone offset and tariff do not identify a home.
TO_REDACT = {CONF_REMOTE_URL, "latitude", "longitude", "unique_id", "title"}
# The dispatch section carries none of these; redacted in case one ever gets in.
TO_REDACT |= {"secret", "token", "webhook_id", "urls"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EvflexConfigEntry
) -> dict[str, Any]:
    coordinator = entry.runtime_data
    data = coordinator.data
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "session": coordinator.home.session.to_dict(),
            "accounts": coordinator.home.accounts.to_dict(),
            "driver": coordinator.home.driver.diagnostics(),
            "charger": asdict(data.charger) if data else None,
            "reason": data.reason if data else None,
            "source": data.source if data else None,
            "error": data.error if data else None,
            "request": data.request if data else None,
            "plan": data.plan if data else None,
            "location": {"latitude": hass.config.latitude, "longitude": hass.config.longitude},
            "dispatch": coordinator.dispatch.diagnostics() if coordinator.dispatch else None,
        },
        TO_REDACT,
    )
