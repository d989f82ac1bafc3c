"""A hostile review of the rebuilt integration: attacks through Home Assistant.

Each test is one attack: odd inputs, clocks, sensors and chargers that misbehave,
two things at once. A passing test is an attack the integration holds up to (kept
as a regression test); an `xfail(strict=True)` one is a finding not fixed here,
its reason says what goes wrong.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.evflex.const import DOMAIN

from .conftest import make_entry, setup_entry
from .wallbox import Wallbox, drive, wallbox_entry


def _state(hass: HomeAssistant, key: str) -> str:
    state = hass.states.get(f"sensor.garage_{key}")
    assert state is not None, key
    return state.state


def _float(hass: HomeAssistant, key: str) -> float:
    return float(_state(hass, key))


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
    entry, wallbox = await wallbox_entry(hass, tariff_kind="sensor", price_entity="sensor.price")
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
    entry = await setup_entry(hass, tariff_kind="sensor", price_entity="sensor.price")
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
        entry = await setup_entry(hass, remote_url=url)
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


# --- two things at once --------------------------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_a_plan_in_flight_at_unload_does_not_command_the_charger_afterwards(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """An options change (or a removal) while a plan is being made: Home Assistant waits
    for the entry's planning task after the entry is unloaded, and the finished plan
    used to be applied to the charger (a write after EVFlex let it go: a Modbus charger
    left at its safe current is commanded again) and published to the site, where
    another charger in the home plans around the ghost until Home Assistant restarts."""
    from custom_components.evflex import home as home_module
    from custom_components.evflex.planning import async_plan as real
    from custom_components.evflex.site import PLANS

    entry, wallbox = await wallbox_entry(hass)
    await drive(hass, freezer, wallbox, 1)
    gate = asyncio.Event()

    async def slow(*args: Any) -> Any:
        outcome = await real(*args)
        await gate.wait()
        return outcome

    with patch.object(home_module, "async_plan", slow):
        entry.runtime_data.home.planner.request_replan("test")
        await asyncio.sleep(0)
        unload = hass.async_create_task(hass.config_entries.async_unload(entry.entry_id))
        for _ in range(20):
            await asyncio.sleep(0)
        wallbox.on = True  # the vendor app: EVFlex would switch it off if it still ran
        wallbox.publish()
        writes = len(wallbox.writes)
        gate.set()
        assert await unload
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert wallbox.writes[writes:] == []
    assert entry.entry_id not in hass.data.get(PLANS, {})


@pytest.mark.usefixtures("shanghai", "evening")
async def test_two_chargers_in_one_home_stay_under_the_main_fuse(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Two EVFlex entries behind one 14 kW main fuse, both cars 30% -> 80% of 60 kWh
    (30 kWh each) at up to 11.04 kW: at no slot do the two plans add up above 14 kW,
    through a night of replans, and both cars still reach 80%."""
    first = await setup_entry(hass, import_limit_kw=14)
    second = make_entry(import_limit_kw=14)
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Drive",
        data=dict(second.data),
        unique_id="simulated_drive",
        entry_id="drive-entry",
    )
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)
    await hass.async_block_till_done()
    worst = 0.0
    for _ in range(13 * 4 + 2):  # 18:00 -> 07:30, a quarter hour at a time
        await drive(hass, freezer, None, 15, step_s=300)
        one = {s["start"]: s["ev_kw"] for s in first.runtime_data.data.plan["slots"]}
        two = {s["start"]: s["ev_kw"] for s in second.runtime_data.data.plan["slots"]}
        for start in one.keys() & two.keys():
            worst = max(worst, one[start] + two[start])
    assert worst <= 14 + 1e-6
    for entry in (first, second):
        assert entry.runtime_data.home.session.soc_pct(dt_util.utcnow()) >= 79.5


# --- sensors that flicker ------------------------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_a_status_sensor_going_unavailable_with_no_car_starts_no_session(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    entry, wallbox = await wallbox_entry(hass)
    wallbox.plugged = False
    wallbox.publish()
    await drive(hass, freezer, wallbox, 5)
    assert not entry.runtime_data.home.session.plugged
    sessions = entry.runtime_data.home.accounts.sessions  # the one that just ended
    hass.states.async_set("sensor.wb_status", "unavailable")  # the charger's link drops
    await drive(hass, freezer, None, 1)
    wallbox.publish()
    await drive(hass, freezer, wallbox, 5)
    home = entry.runtime_data.home
    assert not home.session.plugged
    assert home.accounts.sessions == sessions


@pytest.mark.usefixtures("shanghai", "evening")
async def test_an_energy_meter_flickering_during_charging_loses_nothing(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The meter goes unavailable for 3 minutes at a time while the car charges at
    11.04 kW: the session's energy still equals the meter's increase (what was charged
    while it was away is credited when it returns), within 1%."""
    entry, wallbox = await wallbox_entry(hass)
    await drive(hass, freezer, wallbox, 4 * 60)  # 22:00
    start = wallbox.meter_kwh
    for _ in range(6):
        await drive(hass, freezer, wallbox, 7)
        wallbox.meter_down = True
        await drive(hass, freezer, wallbox, 3)
        wallbox.meter_down = False
    await drive(hass, freezer, wallbox, 2)
    charged = wallbox.meter_kwh - start
    assert charged > 5
    assert entry.runtime_data.home.session.energy_kwh == pytest.approx(charged, rel=0.01)


# --- a charger's number that refuses or clamps ----------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_a_number_that_clamps_is_not_fought_every_cycle(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The charger's number clamps to 13 A (its own cable limit) when EVFlex asks 16:
    EVFlex re-sends at most once per write interval and warns once, not every cycle."""
    entry, wallbox = await wallbox_entry(hass)
    original = wallbox._number

    async def clamping(call: ServiceCall) -> None:
        await original(call)
        wallbox.amps = min(wallbox.amps, 13.0)
        wallbox.publish()

    hass.services.async_register("number", "set_value", clamping)
    await drive(hass, freezer, wallbox, 4 * 60)  # 22:00
    caplog.clear()
    before = len(wallbox.writes)
    await drive(hass, freezer, wallbox, 30)
    assert wallbox.on
    # 30 minutes, 30 s write interval: at most 60 writes; one warning
    assert len(wallbox.writes) - before <= 61
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "evflex" in r.name]
    assert len(warnings) <= 1
    del entry


@pytest.mark.usefixtures("shanghai", "evening")
async def test_a_number_that_refuses_the_value_warns_once(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    entry, wallbox = await wallbox_entry(hass)

    async def refusing(call: ServiceCall) -> None:
        if float(call.data["value"]) > 13:
            raise ServiceValidationError("value 16 is above the maximum 13")
        await wallbox._number(call)

    hass.services.async_register("number", "set_value", refusing)
    await drive(hass, freezer, wallbox, 4 * 60)  # 22:00
    caplog.clear()
    await drive(hass, freezer, wallbox, 30)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "evflex" in r.name]
    assert len(warnings) <= 1
    del entry


# --- clocks: DST in Europe/Berlin and America/New_York ------------------------------------

UTC = dt_util.UTC
DST_EVES = [
    # (zone, 18:00 local on the eve, in UTC): the change comes that night.
    pytest.param(
        "Europe/Berlin", datetime(2026, 3, 28, 17, 0, tzinfo=dt_util.UTC), id="berlin-spring"
    ),
    pytest.param(
        "Europe/Berlin", datetime(2026, 10, 24, 16, 0, tzinfo=dt_util.UTC), id="berlin-fall"
    ),
    pytest.param(
        "America/New_York", datetime(2026, 3, 7, 23, 0, tzinfo=dt_util.UTC), id="ny-spring"
    ),
    pytest.param(
        "America/New_York", datetime(2026, 10, 31, 22, 0, tzinfo=dt_util.UTC), id="ny-fall"
    ),
]


@pytest.mark.parametrize(("zone", "eve"), DST_EVES)
async def test_a_dst_night_charges_in_the_valley_and_meets_the_departure(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, zone: str, eve: datetime
) -> None:
    """Off-peak 22:00-06:00 by the wall clock (7 h of real time in spring, 9 h in the
    fall); 30 kWh to charge at 11.04 kW (2 h 43 min): never a watt in the peak, 80% by
    07:30 local, and every plan's slots follow one another without a gap or overlap."""
    await hass.config.async_set_time_zone(zone)
    hass.config.currency = "EUR"
    freezer.move_to(eve)
    entry = await setup_entry(
        hass,
        tariff_kind="custom",
        peak_price=0.40,
        offpeak_price=0.20,
        offpeak_start="22:00:00",
        offpeak_end="06:00:00",
        currency="EUR",
    )
    driver = entry.runtime_data.home.driver
    peak_amps: list[str] = []
    while _local_hm(dt_util.utcnow()) != "07:30":
        await drive(hass, freezer, None, 5, step_s=300)
        local = dt_util.as_local(dt_util.utcnow())
        if driver.current_a > 0 and 6 <= local.hour < 22:
            peak_amps.append(local.isoformat())
        plan = entry.runtime_data.data.plan
        if plan:
            for a, b in itertools.pairwise(plan["slots"]):
                assert a["end"] == b["start"]
    assert peak_amps == []
    soc = entry.runtime_data.home.session.soc_pct(dt_util.utcnow())
    assert soc >= 79.5


async def test_a_departure_in_the_spring_forward_gap_is_the_first_instant_after_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Departure 02:30 on 29 Mar 2026 in Berlin, a time the clocks skip (02:00 CET ->
    03:00 CEST): planned to 03:00 CEST = 01:00 UTC."""
    await hass.config.async_set_time_zone("Europe/Berlin")
    freezer.move_to(datetime(2026, 3, 28, 17, 0, tzinfo=dt_util.UTC))
    entry = await setup_entry(hass)
    await hass.services.async_call(
        DOMAIN,
        "set_session",
        {"config_entry_id": entry.entry_id, "departure": "02:30"},
        blocking=True,
    )
    slots = entry.runtime_data.data.plan["slots"]
    assert datetime.fromisoformat(slots[-1]["end"]) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


# --- restarts ----------------------------------------------------------------------------------


async def _restart(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    wallbox: Wallbox,
    down: timedelta,
) -> None:
    """Home Assistant stops, the charger goes on by itself for `down`, HA starts again."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    steps = int(down / timedelta(minutes=5))
    for _ in range(steps):
        wallbox.step(300)
        freezer.tick(timedelta(minutes=5))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.usefixtures("shanghai", "evening")
async def test_energy_charged_while_home_assistant_was_down_is_in_the_session(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Down from 22:30 to 23:30 while the charger kept charging at 16 A (11.04 kWh):
    after the restart the session (same plug-in) holds all the meter's increase."""
    entry, wallbox = await wallbox_entry(hass)
    start = wallbox.meter_kwh
    await drive(hass, freezer, wallbox, 4 * 60 + 30)
    plugged_at = entry.runtime_data.home.session.plugged_at
    assert wallbox.on
    await _restart(hass, entry, freezer, wallbox, timedelta(hours=1))
    await drive(hass, freezer, wallbox, 1)
    session = entry.runtime_data.home.session
    assert session.plugged_at == plugged_at
    assert session.energy_kwh == pytest.approx(wallbox.meter_kwh - start, rel=0.01)


@pytest.mark.usefixtures("shanghai", "evening")
async def test_a_departure_that_passed_while_home_assistant_was_down_starts_afresh(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Down from 23:00 to 09:00 the next day, across the 07:30 departure, the car
    reported plugged in all along: a new session from the restart, planned for the next
    07:30 (never for one in the past), and the month holds all the metered energy."""
    entry, wallbox = await wallbox_entry(hass)
    start = wallbox.meter_kwh
    await drive(hass, freezer, wallbox, 5 * 60)
    await _restart(hass, entry, freezer, wallbox, timedelta(hours=10))
    now = dt_util.utcnow()
    home = entry.runtime_data.home
    assert home.session.plugged
    assert home.session.plugged_at is not None
    assert home.session.plugged_at >= now - timedelta(minutes=1)
    departure = home.session.departure_at(now)
    assert departure is not None
    assert dt_util.as_local(departure).strftime("%d %H:%M") == "01 07:30"  # 1 Dec
    assert home.accounts.energy_kwh == pytest.approx(wallbox.meter_kwh - start, rel=0.01)


# --- flash wear, month roll-over -----------------------------------------------------------


@pytest.mark.usefixtures("shanghai", "evening")
async def test_an_hour_of_steady_charging_saves_the_store_a_few_times_only(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """22:30-23:30 charging, a reading a minute, the SoC sensor moving every minute:
    the store is saved every 10 minutes (6), not every cycle (120)."""
    from custom_components.evflex.store import EvflexStore

    _, wallbox = await wallbox_entry(hass)
    await drive(hass, freezer, wallbox, 4 * 60 + 30)
    with patch.object(EvflexStore, "save_soon", autospec=True) as save:
        await drive(hass, freezer, wallbox, 60)
    assert save.call_count <= 7


@pytest.mark.usefixtures("shanghai")
async def test_the_month_rolls_over_at_local_midnight_mid_session(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Charging 22:00 30 Nov -> 00:43 1 Dec (Shanghai): December's accounts start at
    local midnight and hold only what was charged after it."""
    freezer.move_to(datetime(2026, 11, 30, 10, 0, tzinfo=dt_util.UTC))  # 18:00
    entry, wallbox = await wallbox_entry(hass)
    await drive(hass, freezer, wallbox, 6 * 60)  # midnight
    at_midnight = wallbox.meter_kwh
    await drive(hass, freezer, wallbox, 90)
    accounts = entry.runtime_data.home.accounts
    assert accounts.month_start is not None
    assert dt_util.as_local(accounts.month_start).strftime("%m-%d %H:%M") == "12-01 00:00"
    assert accounts.energy_kwh == pytest.approx(wallbox.meter_kwh - at_midnight, abs=0.2)
    state = hass.states.get("sensor.garage_savings_this_month")
    assert state is not None
    reset = datetime.fromisoformat(state.attributes["last_reset"])
    assert reset == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 Dec 00:00 in Shanghai
