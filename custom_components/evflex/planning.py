"""Build the plan-v1 request from the home's state, and plan: in process or remotely.

Failure ladder (each step documented in the README):
1. the remote companion service, if configured; on any failure ->
2. the optimizer in process (in HA's executor: the solver never blocks the loop);
   it has its own fallback heuristic should HiGHS fail; if planning itself fails ->
3. the safe plan: `fast` mode (charge now at full power until the target, no
   prices needed), which meets the departure whenever that is possible at all;
4. with no plan at all, the executor charges at full power below the target.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import aiohttp
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from yarl import URL

from .charger.base import ChargerLimits
from .optimizer import PlanError, plan
from .tariff import Prices

_LOGGER = logging.getLogger(__name__)
REMOTE_TIMEOUT = aiohttp.ClientTimeout(total=20)


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    response: dict[str, Any]
    source: str  # local | remote | safe
    error: str | None = None


def next_departure(now: datetime, hhmm: str) -> datetime:
    """The next time the clock shows `hhmm` (local), at least one slot after now."""
    wanted = time.fromisoformat(hhmm[:5])
    candidate = now.replace(hour=wanted.hour, minute=wanted.minute, second=0, microsecond=0)
    if candidate <= now + timedelta(minutes=15):
        candidate += timedelta(days=1)
    return candidate


def build_request(
    *,
    start: datetime,
    departure: datetime,
    soc: float,
    target_soc: float,
    min_soc: float,
    battery_kwh: float,
    efficiency: float,
    limits: ChargerLimits,
    prices: Prices,
    pv: list[dict[str, Any]],
    base: list[dict[str, Any]],
    import_limit: float | None,
    export_limit: float | None,
    mode: str,
    signals: list[dict[str, Any]],
) -> dict[str, Any]:
    site = {}
    if import_limit:
        site["import_limit_kw"] = import_limit
    if export_limit is not None:
        site["export_limit_kw"] = export_limit
    return {
        "version": 1,
        "start": start.isoformat(),
        "slot_minutes": 15,
        "currency": prices.currency[:8],
        "vehicle": {
            "battery_kwh": battery_kwh,
            "soc_pct": max(0.0, min(100.0, soc)),
            "target_soc_pct": target_soc,
            "min_soc_pct": min(min_soc, target_soc),
            "departure": departure.isoformat(),
            "charge_efficiency": efficiency,
        },
        "charger": {
            "min_power_kw": round(limits.min_kw, 4),
            "max_power_kw": round(limits.max_kw, 4),
        },
        "site": site,
        "prices": {"import": prices.imports, "export": prices.exports},
        "pv_kw": pv,
        "base_load_kw": base,
        "signals": signals,
        "mode": mode,
    }


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
        return PlanOutcome(await hass.async_add_executor_job(plan, request), "local", error)
    except PlanError as err:
        error = f"request refused: {err}"
    except Exception as err:  # any optimizer failure degrades to the safe plan
        error = f"optimizer: {err!r}"
    _LOGGER.error("Planning failed (%s); charging by the safe plan", error)
    try:
        safe = safe_request(request)
        return PlanOutcome(await hass.async_add_executor_job(plan, safe), "safe", error)
    except Exception as err:  # the last resort: the executor charges to the target
        _LOGGER.error("Even the safe plan failed: %r; charging at full power to the target", err)
        return PlanOutcome({}, "none", error)


async def _remote(hass: HomeAssistant, url: str, request: dict[str, Any]) -> dict[str, Any]:
    session = async_get_clientsession(hass)
    async with session.post(
        f"{url.rstrip('/')}/v1/plan", json=request, timeout=REMOTE_TIMEOUT
    ) as resp:
        body = await resp.json(content_type=None)
        if resp.status != 200:
            raise ValueError(f"HTTP {resp.status}: {body.get('error', '')}")
    if not isinstance(body, dict) or body.get("version") != 1 or "slots" not in body:
        raise ValueError("not a plan-v1 response")
    return body


def safe_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request as `fast` mode with nothing that could be refused: full power now."""
    start, end = request["start"], request["vehicle"]["departure"]
    flat_zero = [{"start": start, "end": end, "value": 0.0}]
    return {
        **request,
        "mode": "off" if request.get("mode") == "off" else "fast",
        "prices": {"import": flat_zero},
        "pv_kw": [],
        "base_load_kw": [],
        "signals": [],
        "site": {},
    }
