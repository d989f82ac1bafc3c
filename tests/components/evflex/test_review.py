"""A hostile review of the rebuilt integration: attacks through Home Assistant.

Each test is one attack: odd inputs, clocks, sensors and chargers that misbehave,
two things at once. A passing test is an attack the integration holds up to (kept
as a regression test); an `xfail(strict=True)` one is a finding not fixed here,
its reason says what goes wrong.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import make_entry
from .wallbox import ENTITY_DATA, Wallbox, drive


def _state(hass: HomeAssistant, key: str) -> str:
    state = hass.states.get(f"sensor.garage_{key}")
    assert state is not None, key
    return state.state


def _float(hass: HomeAssistant, key: str) -> float:
    return float(_state(hass, key))


async def _setup(hass: HomeAssistant, **data: Any) -> MockConfigEntry:
    entry = make_entry(**data)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _wallbox_entry(
    hass: HomeAssistant, wallbox: Wallbox | None = None, **data: Any
) -> tuple[MockConfigEntry, Wallbox]:
    box = wallbox or Wallbox(hass)
    config = {**ENTITY_DATA, **data}
    for key, sensor in (
        ("power_entity", "power"),
        ("energy_entity", "energy"),
        ("status_entity", "status"),
        ("soc_entity", "soc"),
    ):
        if sensor not in box.sensors:
            config.pop(key, None)
    entry = make_entry(**config)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry, box


def _local_hm(moment: datetime) -> str:
    return dt_util.as_local(moment).strftime("%H:%M")


# --- prices that are garbage ------------------------------------------------------------


def _price_forecast(start: datetime, hours: int = 36) -> list[dict[str, Any]]:
    """Hourly prices from `start` (a local hour): 0.10 from 22:00 to 06:00, else 0.50."""
    out = []
    for h in range(hours):
        t = start + timedelta(hours=h)
        local = dt_util.as_local(t).hour
        value = 0.10 if local >= 22 or local < 6 else 0.50
        out.append(
            {"start": t.isoformat(), "end": (t + timedelta(hours=1)).isoformat(), "value": value}
        )
    return out


@pytest.mark.usefixtures("shanghai", "evening")
@pytest.mark.parametrize("garbage", ["nan", "inf", "-inf"])
async def test_a_price_sensor_reading_nan_does_not_stop_the_control_loop(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, garbage: str
) -> None:
    """A price sensor whose state is 'nan' (a template dividing by zero, a REST sensor)
    while the car charges: the month's accounts refused the price (ValueError), every
    cycle failed before the controller ran, the entities went unavailable and the
    charger kept its last setpoint, through the peak if need be."""
    start = dt_util.now().replace(minute=0, second=0, microsecond=0)
    attrs = {"unit_of_measurement": "CNY/kWh", "raw_today": _price_forecast(start)}
    hass.states.async_set("sensor.price", "0.50", attrs)
    entry, wallbox = await _wallbox_entry(hass, tariff_kind="sensor", price_entity="sensor.price")
    await drive(hass, freezer, wallbox, 4 * 60 + 30)  # 22:30: charging in the cheap hours
    assert wallbox.on
    hass.states.async_set("sensor.price", garbage, attrs)
    energy = _float(hass, "session_energy")
    await drive(hass, freezer, wallbox, 10)
    coordinator = entry.runtime_data
    assert coordinator.last_update_success
    assert _float(hass, "session_energy") > energy  # still counted
    assert _state(hass, "import_price") in ("unknown", "0.1")
    assert math.isfinite(coordinator.home.accounts.cost)


@pytest.mark.usefixtures("shanghai", "evening")
async def test_a_price_forecast_holding_nan_values_is_not_planned_on(
    hass: HomeAssistant,
) -> None:
    """Forecast values of NaN (a broken upstream) are no prices: the plan is still the
    optimizer's (not the safe plan of a refused request) and prices no slot at NaN."""
    start = dt_util.now().replace(minute=0, second=0, microsecond=0)
    forecast = _price_forecast(start)
    for item in forecast[10:14]:  # 04:00-08:00: garbage
        item["value"] = float("nan")
    hass.states.async_set(
        "sensor.price", "0.50", {"unit_of_measurement": "CNY/kWh", "raw_today": forecast}
    )
    entry = await _setup(hass, tariff_kind="sensor", price_entity="sensor.price")
    data = entry.runtime_data.data
    assert data.source == "local"
    assert all(s["import_price"] == s["import_price"] for s in data.plan["slots"])  # no NaN


# --- the companion service answering slowly or with nonsense --------------------------------


async def _serve(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1/plan", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


NONSENSE = [
    pytest.param(200, {"version": 1, "slots": [{"nonsense": True}]}, id="slots-without-fields"),
    pytest.param(200, {"version": 1, "slots": "none"}, id="slots-not-a-list"),
    pytest.param(
        200,
        {"version": 1, "slots": [{"start": "x", "end": "y", "ev_kw": "fast", "soc_pct": 1}]},
        id="slots-with-garbage-values",
    ),
    pytest.param(500, None, id="http-500-json-null"),
    pytest.param(502, ["bad", "gateway"], id="http-502-json-list"),
]


@pytest.mark.usefixtures("shanghai", "evening", "socket_enabled")
@pytest.mark.parametrize(("status", "body"), NONSENSE)
async def test_a_companion_answering_nonsense_falls_back_to_planning_in_process(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, status: int, body: Any
) -> None:
    """A companion service (or a proxy in front of it) answering nonsense: the plan is
    made in process and the control loop keeps running. Slots without fields crashed
    every cycle (KeyError in the controller, before any write) and the site's
    bookkeeping in the planning task; an error body that is not an object escaped the
    fallback ladder (AttributeError), leaving no plan at all."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    runner, url = await _serve(handler)
    try:
        entry = await _setup(hass, remote_url=url)
        await drive(hass, freezer, None, 2)
        coordinator = entry.runtime_data
        assert coordinator.last_update_success
        assert coordinator.data.source == "local"
        assert coordinator.data.error
        assert coordinator.data.error.startswith("companion service")
        assert _state(hass, "plan_status") not in ("unavailable", "fallback")
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await runner.cleanup()


@pytest.mark.usefixtures("shanghai", "evening", "socket_enabled")
async def test_a_slow_companion_falls_back_within_its_timeout(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A companion that does not answer: after the request timeout, the local plan."""
    import aiohttp

    gate = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await gate.wait()
        return web.json_response({})

    runner, url = await _serve(handler)
    try:
        with patch(
            "custom_components.evflex.planning.REMOTE_TIMEOUT", aiohttp.ClientTimeout(total=0.3)
        ):
            entry = await _setup(hass, remote_url=url)
        assert entry.runtime_data.data.source == "local"
        assert "companion service" in (entry.runtime_data.data.error or "")
    finally:
        gate.set()
        await hass.config_entries.async_unload(entry.entry_id)
        await runner.cleanup()
