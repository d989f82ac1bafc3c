"""EVFlex: home EV smart charging, cheap, solar-aware and grid-friendly."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .charger import create_driver
from .const import CONF_START_DELAY, DEFAULT_START_DELAY_S, DOMAIN
from .coordinator import EvflexConfigEntry, EvflexCoordinator
from .executor import PlanExecutor
from .services import async_setup_services
from .store import EvflexStore

PLATFORMS = [Platform.BUTTON, Platform.NUMBER, Platform.SELECT, Platform.SENSOR, Platform.TIME]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EvflexConfigEntry) -> bool:
    config = {**entry.data, **entry.options}
    store = EvflexStore(hass, entry.entry_id)
    persisted = await store.async_load()
    driver = create_driver(hass, config, persisted.sim_soc)
    delay = float(config.get(CONF_START_DELAY, DEFAULT_START_DELAY_S))
    executor = PlanExecutor(driver, seed=entry.entry_id, max_delay_s=delay)
    coordinator = EvflexCoordinator(hass, entry, driver, store, executor)
    await coordinator.async_setup()
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    return True


async def _async_reload(hass: HomeAssistant, entry: EvflexConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: EvflexConfigEntry) -> bool:
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        coordinator = entry.runtime_data
        coordinator.persist_driver()
        await coordinator.store.async_save()
        await coordinator.driver.async_close()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: EvflexConfigEntry) -> None:
    await EvflexStore(hass, entry.entry_id).async_remove()
