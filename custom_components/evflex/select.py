"""The charging mode: smart, solar only, fast, off."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import MODES
from .controls import async_update_session
from .coordinator import EvflexConfigEntry
from .entity import EvflexControlEntity

MODE = SelectEntityDescription(key="mode", options=list(MODES))

# Settings change the session in memory; nothing to serialise.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: EvflexConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities([EvflexMode(entry.runtime_data, MODE)])


class EvflexMode(EvflexControlEntity, SelectEntity):
    @property
    def current_option(self) -> str:
        return self.coordinator.home.session.settings.mode

    async def async_select_option(self, option: str) -> None:
        await async_update_session(self.coordinator, mode=option)
