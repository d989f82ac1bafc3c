"""The departure time: when the car must be charged to its target (every day)."""

from __future__ import annotations

from datetime import time

from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .controls import async_update_session
from .coordinator import EvflexConfigEntry
from .entity import EvflexControlEntity

DEPARTURE = TimeEntityDescription(key="departure")

# Settings change the session in memory; nothing to serialise.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: EvflexConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities([EvflexDeparture(entry.runtime_data, DEPARTURE)])


class EvflexDeparture(EvflexControlEntity, TimeEntity):
    @property
    def native_value(self) -> time:
        return time.fromisoformat(self.coordinator.home.session.settings.departure)

    async def async_set_value(self, value: time) -> None:
        await async_update_session(self.coordinator, departure=value.strftime("%H:%M"))
