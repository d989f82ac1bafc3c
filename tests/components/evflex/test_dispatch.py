"""Grid dispatch through Home Assistant's real HTTP stack (`hass_client_no_auth`).

The home of conftest: Shanghai, 18:00 on 29 Nov 2026 (peak until 22:00), 60 kWh at 30 %,
target 80 % (30 kWh to charge), 16 A on three phases = 11.04 kW, 6 A = 4.14 kW.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from standardwebhooks.webhooks import Webhook

from custom_components.evflex.dispatch.manager import Dispatch

from .conftest import advance

type Client = Callable[[], Awaitable[TestClient[Any, Any]]]
T18 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai


def _dispatch(entry: MockConfigEntry) -> Dispatch:
    dispatch: Dispatch | None = entry.runtime_data.dispatch
    assert dispatch is not None
    return dispatch


def _signed(secret: str, body: bytes, msg_id: str, at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
        "content-type": "application/json",
    }


class Aggregator:
    def __init__(self, client: TestClient[Any, Any], entry: MockConfigEntry) -> None:
        self.client, self.entry, self.n = client, entry, 0
        self.url = f"/api/webhook/{_dispatch(entry).webhook_id}"

    async def send(
        self,
        event: Any,
        *,
        secret: str | None = None,
        msg_id: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any], Any]:
        self.n += 1
        body = raw if raw is not None else json.dumps(event).encode()
        secret = secret or _dispatch(self.entry).keys.current
        sent = headers if headers is not None else _signed(secret, body, msg_id or f"m{self.n}")
        resp = await self.client.post(self.url, data=body, headers=sent)
        return resp.status, await resp.json(), resp.headers


@pytest.fixture
async def agg(
    hass: HomeAssistant, entry: MockConfigEntry, hass_client_no_auth: Client
) -> Aggregator:
    await _dispatch(entry).async_set_participation(True)
    return Aggregator(await hass_client_no_auth(), entry)


def _plan(entry: MockConfigEntry) -> dict[str, Any]:
    outcome = entry.runtime_data.home.planner.outcome
    assert outcome is not None
    plan: dict[str, Any] = outcome.response
    return plan


def _kw(entry: MockConfigEntry) -> list[float]:
    return [s["ev_kw"] for s in _plan(entry)["slots"]]


def cheap_now(eid: str = "cheap", **extra: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "price",
        "start": "2026-11-29T10:00:00Z",
        "end": "2026-11-29T11:00:00Z",
        "price": -0.5,
        **extra,
    }


async def test_signed_price_event_changes_the_plan_and_the_setpoint(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    received = async_capture_events(hass, "evflex_dispatch_received")
    before = _kw(entry)
    assert before[:4] == [0.0] * 4  # peak: nothing before 22:00
    status, body, headers = await agg.send(cheap_now())
    assert status == 200, body
    assert body["status"] == "accepted"
    # The hour is paid for charging: full power from 18:00 to 19:00.
    assert _kw(entry)[:4] == [11.04] * 4
    await advance(hass, freezer, 1)
    assert hass.states.get("sensor.garage_current_limit").state == "16.0"
    assert len(received) == 1
    assert received[0].data["event_id"] == "cheap"
    # The answer is signed with the same secret.
    Webhook(_dispatch(entry).keys.current).verify(
        json.dumps(body, separators=(",", ":")), dict(headers)
    )


async def test_rejections(hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator) -> None:
    plan = _kw(entry)
    secret = _dispatch(entry).keys.current
    body = json.dumps(cheap_now()).encode()
    # 401, no detail: unsigned, wrong secret, a timestamp outside the 5-minute tolerance.
    for headers in (
        {},
        _signed("whsec_" + "A" * 32, body, "x1"),
        _signed(secret, body, "x2", datetime.now(UTC) - timedelta(minutes=6)),
        _signed(secret, body, "x3", datetime.now(UTC) + timedelta(minutes=6)),
        {**_signed(secret, body, "x4"), "webhook-signature": "v1,!!!"},
    ):
        status, answer, _ = await agg.send(None, raw=body, headers=headers)
        assert (status, answer) == (401, {"error": "unauthorized"})
    # 400 naming the field and the rule.
    status, answer, _ = await agg.send(cheap_now(price="free"))
    assert (status, answer) == (400, {"error": "price: must be a number"})
    status, answer, _ = await agg.send(None, raw=b"{not json")
    assert (status, answer) == (400, {"error": "body: must be JSON"})
    status, answer, _ = await agg.send(None, raw=b'"\xff"', headers=_signed(secret, b'"x"', "x9"))
    assert status == 401  # not UTF-8: the signature cannot be checked
    # 422: well formed, not something EVFlex acts on.
    status, answer, _ = await agg.send({"objectType": "REPORT", "operation": "POST", "object": {}})
    assert status == 422
    assert answer["error"].startswith("objectType: ")
    # 413: more than 64 KiB is refused unread.
    status, answer, _ = await agg.send(None, raw=b" " * (64 * 1024 + 1))
    assert status == 413
    assert _kw(entry) == plan  # nothing changed
    log = _dispatch(entry).security
    assert [e["http"] for e in list(log)[-10:]] == [401] * 5 + [400, 400, 401, 422, 413]
    assert all(secret not in json.dumps(e) for e in log)


async def test_participation_off_is_403_and_changes_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, hass_client_no_auth: Client
) -> None:
    agg = Aggregator(await hass_client_no_auth(), entry)
    assert hass.states.get("switch.garage_flexibility_participation").state == "off"
    plan = _kw(entry)
    status, answer, _ = await agg.send(cheap_now())
    assert (status, answer) == (403, {"status": "declined", "reason": "participation_off"})
    assert _kw(entry) == plan
    await hass.services.async_call(
        "switch",
        "turn_on",
        {"entity_id": "switch.garage_flexibility_participation"},
        blocking=True,
    )
    status, _, _ = await agg.send(cheap_now("other"))
    assert status == 200
    assert _kw(entry) != plan


async def test_replay_gets_the_original_answer(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    status, first, _ = await agg.send(cheap_now(), msg_id="same")
    assert status == 200
    plan = _kw(entry)
    # Replayed with another body under the same id: the first answer, nothing changes.
    status, again, headers = await agg.send(cheap_now(price=5.0), msg_id="same")
    assert (status, again) == (200, first)
    assert headers["X-EVFlex-Replay"] == "1"
    assert _kw(entry) == plan


async def test_rate_limit(hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator) -> None:
    statuses = []
    for _ in range(14):
        status, _, headers = await agg.send({"id": "x"})  # cheap to answer: 400
        statuses.append(status)
        if status == 429:
            assert int(headers["Retry-After"]) >= 1
    # A burst of 10 (the clock stands still under freezer): then 429.
    assert statuses == [400] * 10 + [429] * 4


async def test_key_rotation_with_overlap(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    dispatch = _dispatch(entry)
    old = dispatch.keys.current
    new = dispatch.rotate()
    assert (await agg.send(cheap_now("a"), secret=old))[0] == 200
    assert (await agg.send(cheap_now("b"), secret=new))[0] == 200
    freezer.tick(timedelta(hours=25))
    dispatch.rate.tokens = 10
    assert (
        await agg.send(
            cheap_now("c", start="2026-11-30T11:00:00Z", end="2026-11-30T12:00:00Z"), secret=old
        )
    )[0] == 401
    assert (
        await agg.send(
            cheap_now("d", start="2026-11-30T11:00:00Z", end="2026-11-30T12:00:00Z"), secret=new
        )
    )[0] == 200


async def test_departure_protected_under_a_cap(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    await hass.services.async_call(
        "time",
        "set_value",
        {"entity_id": "time.garage_departure", "time": "22:00:00"},
        blocking=True,
    )
    # 30 kWh by 22:00 is 4 h (16 slots); under a 5 kW EV cap only 20 kWh fit. The home
    # keeps the least it can: 10 kWh more over 4 h = 2.5 kW above the cap, 7.5 kW in
    # every slot (16 x 0.25 h x 7.5 kW = 30 kWh), and says so.
    status, answer, _ = await agg.send(
        {
            "id": "feeder",
            "type": "ev_limit",
            "start": "2026-11-29T10:00:00Z",
            "end": "2026-11-29T14:00:00Z",
            "limit_kw": 5.0,
        }
    )
    assert status == 200
    assert answer["relax_kw"] == 2.5
    assert answer["reasons"] == ["departure"]
    assert answer["status"] == "declined"  # no slot keeps 5 kW
    assert [s["over_kw"] for s in answer["shortfalls"]] == [2.5] * 16
    assert _kw(entry) == [7.5] * 16
    assert _plan(entry)["status"] == "ok"


async def test_cap_below_the_charger_minimum(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    # A 1 kW cap all night: the charger cannot charge below 4.14 kW, so nothing would
    # charge and the departure would be missed. The cap is raised to 4.14 (3.14 more):
    # 30 kWh at 4.14 kW in the valley; those slots are 3.14 kW over, the rest keep it.
    status, answer, _ = await agg.send(
        {
            "id": "feeder",
            "type": "ev_limit",
            "start": "2026-11-29T10:00:00Z",
            "end": "2026-11-29T23:30:00Z",
            "limit_kw": 1.0,
        }
    )
    assert status == 200
    assert answer["relax_kw"] == 3.14
    assert answer["status"] == "partially_accepted"
    assert answer["reasons"] == ["below_charger_minimum"]
    assert {s["over_kw"] for s in answer["shortfalls"]} == {3.14}
    assert max(_kw(entry)) == pytest.approx(4.14)


async def test_update_cancel_and_expiry_restore_the_normal_plan(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    ended = async_capture_events(hass, "evflex_dispatch_ended")
    normal = _kw(entry)
    valley = normal.index(11.04)  # 22:00
    # A load reduction of 5 kW from 22:00 to 23:00: 11.04 - 5 = 6.04 kW there.
    reduction = {
        "id": "r",
        "type": "reduction",
        "start": "2026-11-29T14:00:00Z",
        "end": "2026-11-29T15:00:00Z",
        "reduction_kw": 5.0,
        "modified": "2026-11-29T09:00:00Z",
    }
    status, answer, _ = await agg.send(reduction)
    assert status == 200
    assert answer["status"] == "accepted"
    # At most 11.04 - 5 = 6.04 kW there (the valley's price is flat: the plan may move
    # more of the charging later, and reports it as delivered against the baseline).
    assert all(kw <= 6.04 + 1e-6 for kw in _kw(entry)[valley : valley + 4])
    assert answer["delivered_kwh"] >= 5.0  # 5 kW x 1 h at least
    # An older update changes nothing; a newer one does (3 kW: 8.04 kW).
    assert (await agg.send({**reduction, "reduction_kw": 1.0, "modified": "2026-11-29T08:00:00Z"}))[
        1
    ]["status"] == "stale"
    status, answer, _ = await agg.send(
        {**reduction, "reduction_kw": 3.0, "modified": "2026-11-29T09:30:00Z"}
    )
    assert answer["operation"] == "updated"
    assert all(kw <= 8.04 + 1e-6 for kw in _kw(entry)[valley : valley + 4])
    status, answer, _ = await agg.send(
        {"id": "r", "cancel": True, "modified": "2026-11-29T09:45:00Z"}
    )
    assert answer == {"event_id": "r", "status": "cancelled"}
    assert _kw(entry) == normal
    assert ended[-1].data["why"] == "cancelled"
    # Expiry: an hour's cheap price from now; after 19:00 the plan is the normal one again.
    await agg.send(cheap_now())
    assert _kw(entry) != normal
    await advance(hass, freezer, 62, step_s=120)
    assert ended[-1].data["event_id"] == "cheap"
    assert ended[-1].data["why"] == "ended"
    assert not _dispatch(entry).book.records
    assert all(s.get("type") != "price" for s in entry.runtime_data.home.signals)


async def test_log_and_book_survive_a_restart(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    await agg.send(cheap_now("kept", end="2026-11-29T12:00:00Z"))
    await agg.send(cheap_now("gone"))
    await agg.send({"id": "gone", "cancel": True, "modified": "2026-11-29T10:00:01Z"})
    webhook_id = _dispatch(entry).webhook_id
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    dispatch = _dispatch(entry)
    assert dispatch.webhook_id == webhook_id
    assert dispatch.participating
    assert list(dispatch.book.records) == ["kept"]
    assert [r["event_id"] for r in dispatch.log] == ["gone"]
    assert len(dispatch.security) >= 3
    assert dispatch.events_this_month(datetime.now(UTC)) == 2
    assert any(s["type"] == "price" for s in entry.runtime_data.home.signals)


async def test_cloudhook_forwarded_request_verifies(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    """HA Cloud rebuilds the request from the forwarded body (text, UTF-8 encoded)."""
    from homeassistant.components.webhook import async_handle_webhook

    body = json.dumps({**cheap_now(), "name": "Pointe de consommation éco"}, ensure_ascii=False)
    secret = _dispatch(entry).keys.current
    headers = _signed(secret, body.encode(), "cloud-1")
    # What Home Assistant's cloud client does with the payload HA Cloud forwards.
    from homeassistant.util.aiohttp import MockRequest

    forwarded = MockRequest(
        content=body.encode("utf-8"),
        headers=headers,
        method="POST",
        query_string="",
        mock_source="cloud",
    )
    response = await async_handle_webhook(hass, _dispatch(entry).webhook_id, forwarded)
    assert response.status == 200
    assert json.loads(response.text or "")["status"] == "accepted"


async def test_dispatch_sensors(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    def state(key: str) -> str:
        found = hass.states.get(f"sensor.garage_{key}")
        assert found is not None, key
        return found.state

    assert state("dispatch_active_event") == "none"
    assert state("dispatch_events_this_month") == "0"
    assert state("dispatch_last_delivered_energy") == "unknown"  # no event has ended
    # An hour's cheap price from now: active at once, counted this month.
    await agg.send(cheap_now())
    await hass.async_block_till_done()
    assert state("dispatch_active_event") == "cheap"
    assert state("dispatch_events_this_month") == "1"
    # A 3 kW reduction from 22:00 to 23:00 (14:00-15:00 UTC), cancelled after the cheap
    # hour has ended: the baseline drew 11.04 kW there, the kept plan 8.04 kW, but it
    # was cancelled before it began: nothing of its window had passed, 0 kWh delivered.
    await agg.send(
        {
            "id": "r",
            "type": "reduction",
            "start": "2026-11-29T14:00:00Z",
            "end": "2026-11-29T15:00:00Z",
            "reduction_kw": 3.0,
        }
    )
    await advance(hass, freezer, 62, step_s=120)  # 19:02: the cheap hour has ended
    assert state("dispatch_active_event") == "none"  # the reduction is ahead, not active
    # The cheap hour ended: it asked for more, not less; delivered against the baseline
    # is max(0, baseline - usage) and the car drew at least the baseline: 0.
    assert float(state("dispatch_last_delivered_energy")) == 0.0
    assert float(state("dispatch_last_delivered_power")) == 0.0
    assert state("dispatch_events_this_month") == "2"
