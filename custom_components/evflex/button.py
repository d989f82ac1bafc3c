"""Boost: charge at full power now for an hour; and cancel it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .controls import async_boost, async_cancel_boost
from .coordinator import EvflexConfigEntry, EvflexCoordinator
from .entity import EvflexControlEntity

# Settings change the session in memory; nothing to serialise.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EvflexButtonDescription(ButtonEntityDescription):
    press_fn: Callable[[EvflexCoordinator], Awaitable[None]]


BUTTONS = (
    EvflexButtonDescription(key="boost", press_fn=async_boost),
    EvflexButtonDescription(key="cancel_boost", press_fn=async_cancel_boost),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: EvflexConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities(EvflexButton(entry.runtime_data, d) for d in BUTTONS)


class EvflexButton(EvflexControlEntity, ButtonEntity):
    entity_description: EvflexButtonDescription

    async def async_press(self) -> None:
        await self.entity_description.press_fn(self.coordinator)
