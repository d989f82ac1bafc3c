"""The base of every EVFlex entity: one device per config entry, translated names."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import CONF_CHARGER_SOURCE, DOMAIN, SOURCE_SIMULATED
from .coordinator import EvflexCoordinator


class EvflexEntity(CoordinatorEntity[EvflexCoordinator]):
    _attr_has_entity_name = True

    def __init__(self, coordinator: EvflexCoordinator, description: EntityDescription) -> None:
        super().__init__(coordinator)
        self.entity_description = description
        entry = coordinator.config_entry
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_translation_key = description.translation_key or description.key
        simulated = coordinator.home.config.get(CONF_CHARGER_SOURCE) == SOURCE_SIMULATED
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="EVFlex",
            model="Simulated charger" if simulated else "Smart charging controller",
            sw_version="0.1.0",
        )


class EvflexControlEntity(EvflexEntity):
    """A setting: usable whether or not the charger answers right now."""

    @property
    def available(self) -> bool:
        return True
