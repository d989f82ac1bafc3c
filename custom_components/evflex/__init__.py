"""EVFlex: home EV smart charging, cheap, solar-aware and grid-friendly."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .charger import create_driver
from .const import DEPARTURE_KEYS, DOMAIN
from .coordinator import EvflexConfigEntry, EvflexCoordinator
from .dispatch.setup import async_remove_dispatch, async_setup_dispatch
from .home import Home
from .services import async_setup_services
from .store import EvflexStore

PLATFORMS = [
    Platform.BUTTON,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.TIME,
    Platform.SWITCH,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    from .card import async_register_card

    async_setup_services(hass)
    await async_register_card(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EvflexConfigEntry) -> bool:
    config = {**entry.data, **entry.options}
    store = EvflexStore(hass, entry.entry_id)
    persisted = await store.async_load()
    driver = create_driver(hass, config, persisted.get("sim_soc"))
    coordinator = EvflexCoordinator(hass, entry, Home(hass, entry, config, driver, store))
    await coordinator.async_setup()
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    await async_setup_dispatch(hass, entry, coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: EvflexConfigEntry) -> bool:
    """1.1 kept a full copy of the settings in options, which hid a reconfigured charger."""
    if entry.version > 1:
        return False
    if entry.minor_version < 2:
        from .config_flow import charger_id, split

        merged = {k: v for k, v in {**entry.data, **entry.options}.items() if v is not None}
        data, options = split(merged)
        hass.config_entries.async_update_entry(
            entry,
            data=data,
            options=options,
            unique_id=charger_id(hass, data, entry.title),
            minor_version=2,
        )
    return True


async def _async_reload(hass: HomeAssistant, entry: EvflexConfigEntry) -> None:
    """Reload for new options; a new departure schedule or calendar applies without one."""
    new = {**entry.data, **entry.options}
    home = entry.runtime_data.home
    if {k: v for k, v in new.items() if k not in DEPARTURE_KEYS} == {
        k: v for k, v in home.config.items() if k not in DEPARTURE_KEYS
    }:
        home.apply_departures(new)
        home.store.save_soon(home.snapshot())
        await home.planner.async_replan("schedule")
        entry.runtime_data.async_update_listeners()
        return
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: EvflexConfigEntry) -> bool:
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.home.async_unload()
        if entry.runtime_data.dispatch is not None:
            await entry.runtime_data.dispatch.async_save()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: EvflexConfigEntry) -> None:
    await EvflexStore(hass, entry.entry_id).async_remove()
    await async_remove_dispatch(hass, entry.entry_id)
