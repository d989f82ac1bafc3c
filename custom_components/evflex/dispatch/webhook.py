"""The dispatch endpoint: a Home Assistant webhook per config entry (local and cloud).

HA's webhook has no security of its own (the id is the only secret; an unknown id
and a handler that raised are both answered 200): everything is in `Dispatch`. The
handler reads at most 64 KiB + 1 bytes (a larger body is refused unread), hands the
bytes to `Dispatch.async_handle`, and answers with its status, JSON and headers; the
answer is signed the same way (Standard Webhooks headers) so the aggregator can
check it came from this home (in bearer mode keyed by the token: see auth.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.core import HomeAssistant, callback

from ..const import DOMAIN
from .auth import sign
from .manager import MAX_BODY, Dispatch

if TYPE_CHECKING:
    from ..coordinator import EvflexConfigEntry

_LOGGER = logging.getLogger(__name__)
METH_GET, METH_POST = "GET", "POST"
# Answered before the request is authenticated (too large, rate limited) or because it
# was not: a signature made with the secret would go to anyone who asked.
UNSIGNED = frozenset({401, 413, 429})


async def async_setup(hass: HomeAssistant, entry: EvflexConfigEntry, dispatch: Dispatch) -> None:
    webhook.async_register(
        hass,
        DOMAIN,
        f"{entry.title} dispatch",
        dispatch.webhook_id,
        _handler(dispatch),
        allowed_methods=[METH_POST, METH_GET],
        local_only=False,
    )
    entry.async_on_unload(lambda: webhook.async_unregister(hass, dispatch.webhook_id))
    dispatch.urls = await async_urls(hass, dispatch)


async def async_urls(hass: HomeAssistant, dispatch: Dispatch) -> dict[str, str]:
    urls: dict[str, str] = {}
    try:
        urls["local"] = webhook.async_generate_url(hass, dispatch.webhook_id)
    except Exception:
        urls["local"] = webhook.async_generate_path(dispatch.webhook_id)
    if "cloud" in hass.config.components:
        from homeassistant.components import cloud

        if cloud.async_active_subscription(hass):
            with contextlib.suppress(cloud.CloudNotAvailable):
                urls["cloud"] = await cloud.async_create_cloudhook(hass, dispatch.webhook_id)
    return urls


async def async_remove(hass: HomeAssistant, webhook_id: str) -> None:
    if "cloud" in hass.config.components:
        from homeassistant.components import cloud

        with contextlib.suppress(cloud.CloudNotAvailable, ValueError):
            await cloud.async_delete_cloudhook(hass, webhook_id)


def _handler(dispatch: Dispatch) -> Any:
    @callback
    async def handle(hass: HomeAssistant, webhook_id: str, request: web.Request) -> web.Response:
        try:
            length = getattr(request, "content_length", None)  # a cloudhook's request has none
            if length is not None and length > MAX_BODY:
                status, payload, extra = await dispatch.async_handle(
                    b"x" * (MAX_BODY + 1), request.headers, _source(request), request.method
                )
            else:
                body = await request.content.read(MAX_BODY + 1)
                status, payload, extra = await dispatch.async_handle(
                    body, request.headers, _source(request), request.method
                )
        except Exception:  # nothing escapes: a broken connection, a bug
            _LOGGER.exception("Dispatch webhook failed")
            return _response(dispatch, 400, {"error": "body: could not be read"}, {}, signed=False)
        return _response(dispatch, status, payload, extra, signed=status not in UNSIGNED)

    return handle


def _source(request: web.Request) -> str:
    return str(getattr(request, "remote", None) or "cloud")


def _response(
    dispatch: Dispatch,
    status: int,
    payload: dict[str, Any],
    extra: dict[str, str],
    *,
    signed: bool,
) -> web.Response:
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    headers = dict(extra)
    key = dispatch.answer_key()  # the secret, or in bearer mode the token's bytes
    if signed and key:  # an unauthenticated caller learns nothing, not even a signature
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        headers |= {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(key, msg_id, now, text.encode()),
        }
    return web.Response(status=status, text=text, content_type="application/json", headers=headers)
