"""Wiring the dispatch into a config entry: the manager, the webhook, where to find the secret."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components import persistent_notification, webhook
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from ..const import DOMAIN
from .manager import STORAGE_VERSION, Dispatch
from .webhook import async_remove, async_setup

if TYPE_CHECKING:
    from ..coordinator import EvflexConfigEntry, EvflexCoordinator


async def async_setup_dispatch(
    hass: HomeAssistant, entry: EvflexConfigEntry, coordinator: EvflexCoordinator
) -> Dispatch:
    dispatch = Dispatch(hass, entry.entry_id, coordinator.home)
    await dispatch.async_load(webhook.async_generate_id())
    coordinator.dispatch = dispatch
    await async_setup(hass, entry, dispatch)

    @callback
    def _tick() -> None:
        entry.async_create_background_task(hass, dispatch.async_tick(), "evflex dispatch")

    entry.async_on_unload(coordinator.async_add_listener(_tick))
    if dispatch.new_secret:
        show_setup(hass, entry.entry_id, entry.title)
        dispatch.new_secret = None
    return dispatch


def show_setup(hass: HomeAssistant, entry_id: str, title: str) -> None:
    """Where the owner finds the URLs and creates the secret (never the secret itself:
    a notification is readable by every user until it is dismissed)."""
    persistent_notification.async_create(
        hass,
        "To take part in a flexibility programme, open this integration's options, "
        "choose **Dispatch**, and create a secret: it is shown once there, with the "
        "webhook URLs to give your aggregator. Requests are declined until you switch "
        "flexibility participation on.",
        title=f"EVFlex dispatch: {title}",
        notification_id=f"{DOMAIN}_dispatch_setup_{entry_id}",
    )


async def async_remove_dispatch(hass: HomeAssistant, entry_id: str) -> None:
    store: Store[dict[str, str]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.dispatch.{entry_id}")
    data = await store.async_load() or {}
    if webhook_id := data.get("webhook_id"):
        await async_remove(hass, str(webhook_id))
    await store.async_remove()
