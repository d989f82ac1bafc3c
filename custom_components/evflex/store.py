"""What EVFlex remembers across restarts: the session and the month's accounts.

Saved when something significant changes (a plug-in, a setting, a boost) and
otherwise at most every few minutes, not every cycle (SD cards wear out). The
version-1 layout (settings and counters of the first releases) is migrated.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN

STORAGE_VERSION = 2
SAVE_DELAY_S = 10


class _Store(Store[dict[str, Any]]):
    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        if old_major_version == 1:
            settings = {
                k: v
                for k, v in (old_data.get("session") or {}).items()
                if k in ("departure", "target_soc", "min_soc", "mode")
            }
            return {"session": {"settings": settings}, "sim_soc": old_data.get("sim_soc")}
        return old_data


class EvflexStore:
    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self._store = _Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")
        self.data: dict[str, Any] = {}

    async def async_load(self) -> dict[str, Any]:
        loaded = await self._store.async_load()
        self.data = loaded if isinstance(loaded, dict) else {}
        return self.data

    def save_soon(self, snapshot: dict[str, Any]) -> None:
        """Save `snapshot` (taken now: the write may happen in another thread) shortly."""
        self.data = snapshot
        self._store.async_delay_save(lambda: snapshot, SAVE_DELAY_S)

    async def async_save(self, snapshot: dict[str, Any]) -> None:
        self.data = snapshot
        await self._store.async_save(snapshot)

    async def async_remove(self) -> None:
        await self._store.async_remove()
