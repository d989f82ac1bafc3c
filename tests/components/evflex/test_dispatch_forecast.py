"""The day-ahead flexibility forecast through Home Assistant's HTTP stack, car away.

The home of conftest: Shanghai, 18:00 on Sunday 29 Nov 2026 (peak until 22:00, valley
22:00-06:00), 60 kWh, target 80 %, departure 07:30, 16 A x 3 = 11.04 kW, efficiency 1.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from standardwebhooks.webhooks import Webhook

from .conftest import advance

type Client = Callable[[], Awaitable[TestClient[Any, Any]]]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _local(y: int, mo: int, d: int, h: int, mi: int) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).astimezone(UTC)


async def _get_forecast(client: TestClient[Any, Any], entry: MockConfigEntry) -> Any:
    dispatch = entry.runtime_data.dispatch
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "fc-1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(dispatch.keys.current).sign("fc-1", now, ""),
        "x-evflex-view": "forecast",
    }
    resp = await client.get(f"/api/webhook/{dispatch.webhook_id}", headers=headers)
    assert resp.status == 200
    return await resp.json()


async def test_forecast_with_the_car_away_plans_the_expected_plug_in(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: Client,
    freezer: FrozenDateTimeFactory,
) -> None:
    home = entry.runtime_data.home
    dispatch = entry.runtime_data.dispatch
    # The car leaves at 18:00 (unplugged after 2 minutes of "disconnected").
    home.driver.plug(False)
    await advance(hass, freezer, 3)
    assert not home.session.plugged
    # Three Sundays before: plug-ins at 19:00 (40 %), 20:00 (50 %), 21:00 (SoC unknown);
    # today's 18:00 plug-in was recorded too, with the 30 % the simulated car reported.
    for day, hour, soc in [(8, 19, 40.0), (15, 20, 50.0), (22, 21, None)]:
        dispatch.arrivals.add(_local(2026, 11, day, hour, 0), soc)
    assert [a for a, _ in dispatch.arrivals.items][-1] == _local(2026, 11, 29, 18, 0)
    generation, request = home.planner.generation, home.planner.request
    got = await _get_forecast(await hass_client_no_auth(), entry)
    # Four Sundays: 18:00, 19:00, 20:00, 21:00 -> the median (19:00 + 20:00) / 2 = 19:30;
    # the SoC of the three known: 30, 40, 50 -> 40 %. The departure after it: 07:30.
    assert got["plugged"] is False
    assert got["assumption"] == {
        "basis": "expected_arrival",
        "arrival": "2026-11-29T11:30:00+00:00",
        "arrival_basis": "weekday",
        "sessions": 4,
        "soc_pct": 40.0,
        "soc_basis": "sessions",
        "departure": "2026-11-29T23:30:00+00:00",
        "target_soc_pct": 80.0,
    }
    by_hour = {
        datetime.fromisoformat(h["start"]).astimezone(SHANGHAI).hour: (
            h["shed_kw"],
            h["absorb_kw"],
            h["plugged_fraction"],
        )
        for h in got["hours"]
    }
    assert len(got["hours"]) == 24
    # 40 % -> 80 % of 60 kWh = 24 kWh, in the valley from 22:00, as early as possible:
    # 8 slots at 11.04 kW (22.08 kWh) and 1.92 kWh in the 9th (00:00): 7.68 kW.
    assert by_hour[18] == (0.0, 0.0, 0.0)  # the car is away
    assert by_hour[19] == (0.0, 5.52, 0.5)  # from 19:30: 11.04 kW x 0.5 h
    assert by_hour[20] == by_hour[21] == (0.0, 11.04, 1.0)  # peak: nothing planned, room
    assert by_hour[22] == by_hour[23] == (11.04, 0.0, 1.0)
    # 00:00: 7.68 / 4 = 1.92 kW; room (11.04 - 7.68) + 3 x 11.04 = 36.48 / 4 = 9.12.
    assert by_hour[0] == (1.92, 9.12, 1.0)
    for hour in range(1, 7):  # at 80 %, not full: the whole charger until the departure
        assert by_hour[hour] == (0.0, 11.04, 1.0)
    assert by_hour[7] == (0.0, 5.52, 0.5)  # until 07:30
    for hour in range(8, 18):  # gone again
        assert by_hour[hour] == (0.0, 0.0, 0.0)
    # Planned ahead, not installed: the home's planner neither ran nor changed.
    assert (home.planner.generation, home.planner.request) == (generation, request)


async def test_forecast_with_the_car_plugged_in_reads_the_plan_then_the_next_session(
    hass: HomeAssistant, entry: MockConfigEntry, hass_client_no_auth: Client
) -> None:
    # Four Mondays before: plug-ins at 17:00 with 50 %: tomorrow (Monday 30 Nov) the car
    # is expected back at 17:00, after it leaves at 07:30.
    for day in (2, 9, 16, 23):
        entry.runtime_data.dispatch.arrivals.add(_local(2026, 11, day, 17, 0), 50.0)
    got = await _get_forecast(await hass_client_no_auth(), entry)
    assert got["plugged"] is True
    assert got["assumption"]["basis"] == "plugged_in"
    assert got["assumption"]["departure"] == "2026-11-29T23:30:00+00:00"
    then = got["assumption"]["then"]
    assert (then["arrival"], then["arrival_basis"], then["soc_pct"]) == (
        "2026-11-30T09:00:00+00:00",
        "weekday",
        50.0,
    )
    by_hour = {
        datetime.fromisoformat(h["start"]).astimezone(SHANGHAI).hour: (h["shed_kw"], h["absorb_kw"])
        for h in got["hours"]
    }
    # Tonight's plan: 30 % -> 80 %: 30 kWh from 22:00: 10 slots at 11.04 and 2.4 kWh at
    # 9.6 kW.
    assert by_hour[18] == (0.0, 11.04)
    assert by_hour[22] == by_hour[23] == (11.04, 0.0)
    # 00:00: (2 x 11.04 + 9.6) / 4 = 7.92; room (1.44 + 11.04) / 4 = 3.12.
    assert by_hour[0] == (7.92, 3.12)
    assert by_hour[7] == (0.0, 5.52)  # until 07:30
    for hour in range(8, 17):  # away
        assert by_hour[hour] == (0.0, 0.0)
    # Back at 17:00 (peak: nothing planned before 22:00): the whole charger's room.
    assert by_hour[17] == (0.0, 11.04)
    assert json.dumps(got)  # plain JSON


async def test_forecast_in_mode_off_absorbs_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, hass_client_no_auth: Client
) -> None:
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.garage_charging_mode", "option": "off"},
        blocking=True,
    )
    got = await _get_forecast(await hass_client_no_auth(), entry)
    assert {(h["shed_kw"], h["absorb_kw"]) for h in got["hours"]} == {(0.0, 0.0)}
