"""The dispatch options step and an aggregator that sends signed or bearer requests:
shared by the owner's dispatch tests."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry
from standardwebhooks.webhooks import Webhook

from custom_components.evflex.dispatch.manager import Dispatch

type Client = Callable[[], Awaitable[TestClient[Any, Any]]]
UNAUTHORIZED = (401, {"error": "unauthorized"})


def dispatch_of(entry: MockConfigEntry) -> Dispatch:
    dispatch: Dispatch | None = entry.runtime_data.dispatch
    assert dispatch is not None
    return dispatch


def price_event(eid: str, day: int = 29) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "price",
        "start": f"2026-11-{day}T10:00:00Z",
        "end": f"2026-11-{day}T11:00:00Z",
        "price": -0.5,
    }


def signed(secret: str, body: bytes, msg_id: str) -> dict[str, str]:
    at = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
        "content-type": "application/json",
    }


class Sender:
    def __init__(self, client: TestClient[Any, Any], entry: MockConfigEntry) -> None:
        self.client, self.entry, self.n = client, entry, 0

    async def post(
        self, event: Any, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        body = json.dumps(event).encode()
        url = f"/api/webhook/{dispatch_of(self.entry).webhook_id}"
        resp = await self.client.post(url, data=body, headers=headers)
        return resp.status, await resp.json(), dict(resp.headers)

    async def signed(self, event: Any, secret: str) -> tuple[int, dict[str, Any]]:
        self.n += 1
        body = json.dumps(event).encode()
        status, answer, _ = await self.post(event, signed(secret, body, f"s{self.n}"))
        return status, answer

    async def bearer(
        self, event: Any, header: str | None, msg_id: str | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        headers = {"content-type": "application/json"}
        if header is not None:
            headers["Authorization"] = header
        if msg_id:
            headers["webhook-id"] = msg_id
        return await self.post(event, headers)


async def open_dispatch(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert "dispatch" in result["menu_options"]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "dispatch"}
    )


def form(**changes: Any) -> dict[str, Any]:
    return {
        "dispatch_auth": "standard_webhooks",
        "dispatch_driver_first": True,
        "reward_monthly": 0,
        "reward_per_kw": 0,
        "reward_per_kwh": 0,
        "new_credential": False,
        **changes,
    }


async def save(hass: HomeAssistant, entry: MockConfigEntry, **changes: Any) -> None:
    """The dispatch step, submitted without a new credential."""
    result = await open_dispatch(hass, entry)
    done = await hass.config_entries.options.async_configure(result["flow_id"], form(**changes))
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def new_credential(
    hass: HomeAssistant, entry: MockConfigEntry, *, mode: str = "standard_webhooks", **changes: Any
) -> str:
    """Tick "create a new secret"; read it from the next form; close that form."""
    shown = await open_dispatch(hass, entry)
    result = await hass.config_entries.options.async_configure(
        shown["flow_id"], form(dispatch_auth=mode, new_credential=True, **changes)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == ("dispatch_token" if mode == "bearer" else "dispatch_secret")
    secret: str = result["description_placeholders"]["secret"]
    done = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert secret not in json.dumps(done["data"])  # never in the options
    await hass.async_block_till_done()
    return secret
