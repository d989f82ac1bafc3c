"""Flexibility participation: off by default; off, every dispatch request is declined."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import EvflexConfigEntry
from .entity import EvflexControlEntity

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: EvflexConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities(
        [
            ParticipationSwitch(
                entry.runtime_data,
                SwitchEntityDescription(
                    key="flexibility_participation", entity_category=EntityCategory.CONFIG
                ),
            )
        ]
    )


class ParticipationSwitch(EvflexControlEntity, SwitchEntity):
    @property
    def is_on(self) -> bool:
        dispatch = self.coordinator.dispatch
        return bool(dispatch and dispatch.participating)

    # No webhook URLs in the state (every user and the recorder read it; whoever has a
    # URL can spend the rate limit): the options step "dispatch" shows them to admins.

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._set(False)

    async def _set(self, on: bool) -> None:
        if self.coordinator.dispatch is not None:
            await self.coordinator.dispatch.async_set_participation(on)
        self.async_write_ha_state()
