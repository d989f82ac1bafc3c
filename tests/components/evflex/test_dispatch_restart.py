"""The dispatch log, the counters, replay protection and an active event survive a FULL
Home Assistant restart: the first instance stops (its stores flushed as on a real
shutdown, entries not unloaded) and a new one starts on the same storage, loading the
config entries from it.

The home of conftest: Shanghai, 18:00 on 29 Nov 2026, 60 kWh at 30 %, target 80 %,
16 A x 3 = 11.04 kW, here in mode `fast` so that the car charges at full power now (a
baseline to shed from).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from standardwebhooks.webhooks import Webhook

from custom_components.evflex.const import DOMAIN

from .conftest import advance

type Client = Callable[[], Awaitable[TestClient[Any, Any]]]

REDUCE = {  # 5 kW below the baseline from 18:00 to 18:30
    "id": "shed-now",
    "type": "reduction",
    "start": "2026-11-29T10:00:00Z",
    "end": "2026-11-29T10:30:00Z",
    "reduction_kw": 5.0,
}
CAP = {  # the EV at most 6.9 kW (10 A) from 18:30 to 20:00
    "id": "feeder",
    "type": "ev_limit",
    "start": "2026-11-29T10:30:00Z",
    "end": "2026-11-29T12:00:00Z",
    "limit_kw": 6.9,
}


def _signed(secret: str, body: bytes, msg_id: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
        "content-type": "application/json",
    }


async def _send(
    client: TestClient[Any, Any], entry_data: Any, event: Any, msg_id: str
) -> tuple[int, Any]:
    dispatch = entry_data.dispatch
    body = json.dumps(event).encode()
    resp = await client.post(
        f"/api/webhook/{dispatch.webhook_id}",
        data=body,
        headers=_signed(dispatch.keys.current, body, msg_id),
    )
    return resp.status, await resp.json()


def _state(hass: HomeAssistant, key: str) -> str:
    found = hass.states.get(f"sensor.garage_{key}")
    assert found is not None, key
    return found.state


@asynccontextmanager
async def _new_home_assistant(config_dir: str) -> AsyncIterator[HomeAssistant]:
    """A second Home Assistant on the same storage, as after a restart."""
    async with async_test_home_assistant(config_dir=config_dir) as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # custom integrations, as in the first
        await hass.config.async_set_time_zone("Asia/Shanghai")
        hass.config.currency = "CNY"
        assert await async_setup_component(hass, "switch", {})
        await hass.config_entries.async_initialize()  # the entries stored by the first
        assert await async_setup_component(hass, DOMAIN, {})
        await hass.async_block_till_done()
        try:
            yield hass
        finally:
            for entry in hass.config_entries.async_entries(DOMAIN):
                if entry.state is ConfigEntryState.LOADED:
                    await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_stop(force=True)


async def test_log_counters_replay_and_an_active_event_survive_a_full_restart(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: Client,
    aiohttp_client: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.garage_charging_mode", "option": "fast"},
        blocking=True,
    )
    await hass.services.async_call(
        "switch",
        "turn_on",
        {"entity_id": "switch.garage_flexibility_participation"},
        blocking=True,
    )
    client = await hass_client_no_auth()
    status, shed = await _send(client, entry.runtime_data, REDUCE, "msg-shed")
    assert status == 200, shed
    assert shed["status"] == "accepted"
    status, cap = await _send(client, entry.runtime_data, CAP, "msg-cap")
    assert status == 200, cap
    # 18:00 -> 18:32: the reduction has ended, the cap holds.
    for _ in range(16):
        await advance(hass, freezer, 2, step_s=120)
        print(
            "LIM",
            hass.states.get("sensor.garage_current_limit").state,
            entry.runtime_data.home.session.energy_kwh,
        )
    before = {
        key: _state(hass, key)
        for key in (
            "dispatch_active_event",
            "dispatch_events_this_month",
            "dispatch_last_delivered_energy",
            "dispatch_last_delivered_power",
        )
    }
    assert before["dispatch_active_event"] == "feeder"
    assert before["dispatch_events_this_month"] == "2"
    log = list(entry.runtime_data.dispatch.log)
    assert [r["event_id"] for r in log] == ["shed-now"]
    # Baseline 11.04 kW for 0.5 h = 5.52 kWh; the car drew 8 A = 5.52 kW (6.04 kW in
    # whole amps, not above the plan) for 0.5 h = 2.76 kWh: delivered 2.76 kWh, 5.52 kW.
    assert before["dispatch_last_delivered_energy"] == "2.76"
    assert before["dispatch_last_delivered_power"] == "5.52"
    assert hass.states.get("sensor.garage_current_limit").state == "10.0"
    config_dir = hass.config.config_dir

    # A full stop: Home Assistant flushes the stores on its way down.
    await hass.async_stop()
    assert entry.runtime_data.dispatch is not None

    async with _new_home_assistant(config_dir) as hass2:
        (entry2,) = hass2.config_entries.async_entries(DOMAIN)
        assert entry2.state is ConfigEntryState.LOADED
        dispatch = entry2.runtime_data.dispatch
        assert list(dispatch.log) == log  # the event log, with what was delivered
        after = {key: _state(hass2, key) for key in before}
        assert after == before  # the sensors
        client2 = await aiohttp_client(hass2.http.app)
        # Replay: the same webhook-id gets the original answer and changes nothing.
        plan = entry2.runtime_data.home.planner.outcome.response
        status, again = await _send(client2, entry2.runtime_data, {**REDUCE, "id": "x"}, "msg-shed")
        assert (status, again) == (200, shed)
        assert "x" not in dispatch.book.records
        # The cap is still in force: at most 6.9 kW (10 A) until 20:00 (it was not: the
        # first plan after a start was made before the book was read, at full power).
        assert list(dispatch.book.records) == ["feeder"]
        slots = entry2.runtime_data.home.planner.outcome.response["slots"]
        window = [s for s in slots if s["start"] < "2026-11-29T20:00:00+08:00"]
        assert window
        assert all(s["ev_kw"] <= 6.9 + 1e-6 for s in window)
        assert entry2.runtime_data.home.planner.outcome.response == plan
        await advance(hass2, freezer, 1)
        assert hass2.states.get("sensor.garage_current_limit").state == "10.0"
