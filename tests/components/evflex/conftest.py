"""Fixtures: a real Home Assistant core with EVFlex on the simulated charger."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from datetime import datetime
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.evflex.const import DOMAIN

from .owner import Client, Sender, dispatch_of

SIM_DATA: dict[str, Any] = {
    "charger_source": "simulated",
    "phases": 3,
    "voltage": 230,
    "min_current": 6,
    "max_current": 16,  # 11.04 kW
    "battery_kwh": 60,
    "efficiency": 1.0,
    "arrival_soc": 30,
    "tariff_kind": "preset",
    "preset": "shanghai_residential_tou",
    "max_start_delay_s": 0,
    # The hand-worked plans of these tests charge as early as possible among equal
    # costs; the grid-friendly default has tests of its own.
    "charging_preference": "as_early_as_possible",
}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/evflex."""


@pytest.fixture(autouse=True)
def all_entities_enabled() -> Generator[None]:
    """Technical entities are disabled by default; the tests read them all."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
async def shanghai(hass: HomeAssistant) -> None:
    await hass.config.async_set_time_zone("Asia/Shanghai")
    hass.config.currency = "CNY"


@pytest.fixture
def evening(freezer: FrozenDateTimeFactory) -> datetime:
    """18:00 in Shanghai, 29 Nov 2026: peak price until 22:00."""
    moment = datetime(2026, 11, 29, 10, 0, tzinfo=dt_util.UTC)
    freezer.move_to(moment)
    return moment


def make_entry(**changes: Any) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Garage",
        data={**SIM_DATA, **changes},
        unique_id="simulated_garage",
        entry_id="garage-entry",
    )


async def setup_entry(hass: HomeAssistant, **changes: Any) -> MockConfigEntry:
    """Add and set up an entry (`SIM_DATA` with `changes`); wait until it has planned."""
    config_entry = make_entry(**changes)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


@pytest.fixture
async def entry(hass: HomeAssistant, shanghai: None, evening: datetime) -> MockConfigEntry:
    return await setup_entry(hass)


@pytest.fixture
async def companion(socket_enabled: None) -> AsyncIterator[str]:
    """The real optimizer service (`python -m optimizer serve`'s app) on loopback."""
    from aiohttp import web

    from optimizer.service import create_app

    runner = web.AppRunner(create_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@pytest.fixture
def no_store_delay() -> Generator[None]:
    with patch("custom_components.evflex.store.SAVE_DELAY_S", 0):
        yield


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: float, step_s: int = 60
) -> None:
    """Move time forward in steps, letting the 30 s cycle run at each."""
    from datetime import timedelta

    from pytest_homeassistant_custom_component.common import async_fire_time_changed

    steps = int(minutes * 60 // step_s)
    for _ in range(steps):
        freezer.tick(timedelta(seconds=step_s))
        async_fire_time_changed(hass)
        # The coordinator refreshes in a background task: wait for it too.
        await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture(autouse=True)
def quiet_asyncio_clock_warnings(caplog: pytest.LogCaptureFixture) -> None:
    """Moving the clock makes asyncio's debug mode report slow callbacks: noise here."""
    import logging

    logging.getLogger("asyncio").setLevel(logging.ERROR)


@pytest.fixture(autouse=True)
async def switch_component(hass: HomeAssistant) -> None:
    """HA's switch component, set up before a test's fake charger registers its own
    switch services (EVFlex's participation switch would load it later, over them)."""
    from homeassistant.setup import async_setup_component

    assert await async_setup_component(hass, "switch", {})


@pytest.fixture
async def night(hass: HomeAssistant, shanghai: None, freezer: FrozenDateTimeFactory) -> Any:
    """22:00 in Shanghai, 29 Nov 2026: the valley, the plan charges 11.04 kW from now."""
    freezer.move_to(datetime(2026, 11, 29, 14, 0, tzinfo=dt_util.UTC))
    return await setup_entry(hass)


@pytest.fixture
async def sender(
    hass: HomeAssistant, entry: MockConfigEntry, hass_client_no_auth: Client
) -> Sender:
    """The aggregator, with participation on."""
    await dispatch_of(entry).async_set_participation(True)
    return Sender(await hass_client_no_auth(), entry)
