"""Build the plan-v1 request from the home's state, and plan: in process or remotely.

Failure ladder (each step documented in the README):
1. the remote companion service, if configured; on any failure ->
2. the optimizer in process (in HA's executor: the solver never blocks the loop);
   it has its own fallback heuristic should HiGHS fail; if planning itself fails ->
3. the safe plan: the same request on one flat price, without forecasts or
   signals, in the same mode: it meets the departure and the minimum SoC;
4. with no plan at all, the controller charges at full power only from the
   latest start that still meets the departure (and below the minimum SoC).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import voluptuous as vol
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from yarl import URL

from .optimizer import PlanError, plan
from .young import young

_LOGGER = logging.getLogger(__name__)
REMOTE_TIMEOUT = aiohttp.ClientTimeout(total=20)
SAFE_SPAN = timedelta(days=8)  # longer than any plan-v1 horizon


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    response: dict[str, Any]
    source: str  # local | remote | safe
    error: str | None = None


async def async_plan(
    hass: HomeAssistant, request: dict[str, Any], remote_url: str | None
) -> PlanOutcome:
    error = None
    if remote_url:
        try:
            return PlanOutcome(await _remote(hass, remote_url, request), "remote")
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError) as err:
            error = f"companion service: {err or type(err).__name__}"
            shown = URL(remote_url).with_user(None)  # never log credentials
            _LOGGER.warning("Planning through %s failed (%s); planning in process", shown, error)
    try:
        return PlanOutcome(await hass.async_add_executor_job(young, plan, request), "local", error)
    except PlanError as err:
        error = f"request refused: {err}"
    except Exception as err:  # any optimizer failure degrades to the safe plan
        error = f"optimizer: {err!r}"
    _LOGGER.error("Planning failed (%s); charging by the safe plan", error)
    try:
        safe = safe_request(request)
        return PlanOutcome(await hass.async_add_executor_job(young, plan, safe), "safe", error)
    except Exception as err:  # the last resort: the executor charges to the target
        _LOGGER.error("Even the safe plan failed: %r; charging at full power to the target", err)
        return PlanOutcome({}, "none", error)


async def _remote(hass: HomeAssistant, url: str, request: dict[str, Any]) -> dict[str, Any]:
    session = async_get_clientsession(hass)
    async with session.post(
        f"{url.rstrip('/')}/v1/plan", json=request, timeout=REMOTE_TIMEOUT
    ) as resp:
        body: object = await resp.json(content_type=None)
        if resp.status != 200:
            error = body.get("error", "") if isinstance(body, dict) else ""
            raise ValueError(f"HTTP {resp.status}: {error}")
    try:
        REMOTE_RESPONSE(body)
    except vol.Invalid as err:
        where = ".".join(str(p) for p in err.path) or "response"
        raise ValueError(f"not a plan-v1 response: {where}: {err.msg}") from err
    assert isinstance(body, dict)  # the schema checked it
    return body


def _instant(value: object) -> datetime:
    if not isinstance(value, str):
        raise vol.Invalid("must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise vol.Invalid("must be an ISO 8601 time") from err
    if parsed.utcoffset() is None:
        raise vol.Invalid("must have a UTC offset")
    return parsed


def _finite(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise vol.Invalid("must be a finite number")
    return float(value)


# What the integration reads from a plan (controller, sensors, the site): a companion
# that answers anything else is a failed companion, and the plan is made in process.
_SLOT = vol.Schema(
    {
        vol.Required("start"): _instant,
        vol.Required("end"): _instant,
        vol.Required("ev_kw"): vol.All(_finite, vol.Range(min=0)),
        vol.Required("soc_pct"): vol.All(_finite, vol.Range(min=0, max=100)),
        vol.Optional("pv_kw"): vol.Any(None, _finite),
        vol.Optional("import_price"): vol.Any(None, _finite),
    },
    extra=vol.ALLOW_EXTRA,
)
REMOTE_RESPONSE = vol.Schema(
    {
        vol.Required("version"): 1,
        vol.Required("slots"): vol.All([_SLOT], vol.Length(min=1)),
        vol.Optional("summary"): dict,
    },
    extra=vol.ALLOW_EXTRA,
)


def safe_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request with nothing left that could be refused: one flat price, no forecasts,
    no signals. The mode stays (`off` is off); the plan meets the departure and the
    minimum SoC, without knowing which hours are cheap."""
    start = datetime.fromisoformat(request["start"])
    flat = [{"start": start.isoformat(), "end": (start + SAFE_SPAN).isoformat(), "value": 0.0}]
    return {
        **request,
        "prices": {"import": flat},
        "pv_kw": [],
        "base_load_kw": [],
        "signals": [],
    }
