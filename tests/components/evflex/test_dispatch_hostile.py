"""A hostile review of the dispatch webhook, as an aggregator and an attacker would use
it, through Home Assistant's real HTTP stack. Each finding is numbered; those that
broke were written as failing tests first and then fixed.

The home of conftest: Shanghai, 18:00 on Sunday 29 Nov 2026 (peak until 22:00), 60 kWh
at 30 %, target 80 % (30 kWh), departure 07:30, 16 A x 3 = 11.04 kW, 6 A = 4.14 kW,
0.69 kW per amp.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from .conftest import advance, setup_entry
from .test_dispatch import Aggregator, _dispatch, _kw, _plan, agg, cheap_now

__all__ = ["agg"]  # the fixture


async def _mode(hass: HomeAssistant, mode: str) -> None:
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.garage_charging_mode", "option": mode},
        blocking=True,
    )


def _limit(hass: HomeAssistant) -> float:
    state = hass.states.get("sensor.garage_current_limit")
    assert state is not None
    return float(state.state)


REDUCE: dict[str, Any] = {  # 5 kW below the baseline from 18:00 to 18:30
    "id": "shed-now",
    "type": "reduction",
    "start": "2026-11-29T10:00:00Z",
    "end": "2026-11-29T10:30:00Z",
    "reduction_kw": 5.0,
}


async def test_1_fast_mode_keeps_an_accepted_reduction(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 1: in mode `fast` the controller charged at 16 A whatever the plan said,
    so an accepted reduction (expected 6.04 kW) was not kept at all."""
    await _mode(hass, "fast")
    await advance(hass, freezer, 1)
    assert _limit(hass) == 16.0
    status, answer, _ = await agg.send(REDUCE)
    assert (status, answer["status"]) == (200, "accepted")
    assert [r["expected_kw"] for r in answer["expected_ev_kw"]] == [6.04, 6.04]
    await advance(hass, freezer, 1)
    # 6.04 kW / 0.69 kW per A = 8.75 A: whole amps, never above the plan: 8 A.
    assert _limit(hass) == 8.0


async def test_2_the_metered_delivery_is_what_the_charger_drew(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 2: the energy metered per quarter hour was kept under UTC keys and looked
    up under the plan's local ones: usage read 0 and every event reported its whole
    baseline as delivered (5.52 kWh here, whatever the car drew). Also: the quarter
    hours before the event was received (nothing could be shed then) counted."""
    await _mode(hass, "fast")
    await advance(hass, freezer, 1)  # 18:01, charging at 16 A
    status, _, _ = await agg.send(REDUCE)  # received at 18:01: 8 A (5.52 kW) at once
    assert status == 200
    await advance(hass, freezer, 30)  # 18:31: ended
    (report,) = _dispatch(entry).log
    # Bound from 18:01 to 18:30: baseline 11.04 kW x 14 min = 2.576 kWh in the 18:00
    # quarter, 11.04 x 15 min = 2.76 in the 18:15 one: 5.336 kWh. Drawn: 5.52 kW x 14 min
    # = 1.288 and x 15 min = 1.38: 2.668 kWh. Delivered 5.336 - 2.668 = 2.668 kWh over
    # 29 min: 5.52 kW.
    assert [r["baseline_kwh"] for r in report["intervals"]] == [2.576, 2.76]
    assert [r["usage_kwh"] for r in report["intervals"]] == pytest.approx([1.288, 1.38], abs=1e-4)
    assert report["baseline_kwh"] == pytest.approx(5.336, abs=1e-4)
    assert report["metered_kwh"] == pytest.approx(2.668, abs=1e-4)
    assert report["delivered_kwh"] == pytest.approx(2.668, abs=1e-4)
    assert report["delivered_kw"] == pytest.approx(5.52, abs=1e-4)


def _cap(eid: str, start: str, end: str, kw: float, **extra: Any) -> dict[str, Any]:
    return {"id": eid, "type": "ev_limit", "start": start, "end": end, "limit_kw": kw, **extra}


VALLEY = ("2026-11-29T14:00:00Z", "2026-11-29T16:00:00Z")  # 22:00-24:00 in Shanghai


def _window_kw(entry: MockConfigEntry, start: str, end: str) -> list[float]:
    from datetime import datetime

    a, b = datetime.fromisoformat(start), datetime.fromisoformat(end)
    return [
        s["ev_kw"] for s in _plan(entry)["slots"] if a <= datetime.fromisoformat(s["start"]) < b
    ]


async def test_3_two_events_racing_both_hold_the_stricter_wins(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    """Two overlapping caps sent at the same moment: both are answered from a book that
    holds the other (one at a time), and the plan keeps the stricter in the overlap."""
    one, two = await asyncio.gather(
        agg.send(_cap("a", VALLEY[0], VALLEY[1], 8.0)),
        agg.send(_cap("b", "2026-11-29T15:00:00Z", "2026-11-29T17:00:00Z", 5.0)),
    )
    assert (one[0], two[0]) == (200, 200)
    assert sorted(_dispatch(entry).book.records) == ["a", "b"]
    # 22:00-23:00 at most 8 kW; 23:00-24:00 at most min(8, 5) = 5 kW; 00:00-01:00 5 kW.
    assert max(_window_kw(entry, VALLEY[0], "2026-11-29T15:00:00Z")) <= 8.0 + 1e-6
    assert max(_window_kw(entry, "2026-11-29T15:00:00Z", "2026-11-29T17:00:00Z")) <= 5.0 + 1e-6
    # The second answer was planned with the first in the book: its expected kW are the
    # plan's (nothing above its own cap, nothing above the first where they overlap).
    later = two if two[1]["event_id"] == "b" else one
    assert all(r["expected_kw"] <= 5.0 + 1e-6 for r in later[1]["expected_ev_kw"])


async def test_4_an_event_already_over_is_refused_and_changes_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    plan = _kw(entry)
    status, answer, _ = await agg.send(
        _cap("past", "2026-11-29T08:00:00Z", "2026-11-29T09:59:00Z", 1.0)
    )
    assert (status, answer) == (400, {"error": "end: the event has already ended"})
    assert _kw(entry) == plan
    assert not _dispatch(entry).book.records


async def test_5_a_cap_of_zero_moves_the_charging_and_is_kept(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    """0 kW from 22:00 to 24:00: the 30 kWh fit after midnight before 07:30 (2.72 h at
    11.04 kW), so the departure does not need those hours: accepted, 0 kW there."""
    status, answer, _ = await agg.send(_cap("zero", VALLEY[0], VALLEY[1], 0.0))
    assert (status, answer["status"], answer["reasons"]) == (200, "accepted", [])
    assert [r["expected_kw"] for r in answer["expected_ev_kw"]] == [0.0] * 8
    assert _window_kw(entry, *VALLEY) == [0.0] * 8
    assert _plan(entry)["status"] == "ok"
    assert sum(_kw(entry)) * 0.25 == pytest.approx(30.0, abs=0.01)


async def test_6_an_event_far_ahead(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    """Beyond 8 days: refused. Within them but beyond the plan (a cap in 5 days): kept in
    the book and the plan's signals, answered without promising kW it cannot know."""
    status, answer, _ = await agg.send(
        _cap("far", "2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z", 3.0)
    )
    assert (status, answer) == (400, {"error": "start: must be at most 8 days ahead"})
    status, answer, _ = await agg.send(
        _cap("ahead", "2026-12-04T10:00:00Z", "2026-12-04T11:00:00Z", 3.0)
    )
    assert status == 200
    assert answer["expected_ev_kw"] == []
    assert "ahead" in _dispatch(entry).book.records
    assert any(s["id"].startswith("ahead") for s in entry.runtime_data.home.signals)


async def test_7_a_delete_of_an_unknown_id_is_remembered(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    """Finding 7: a DELETE that overtook its POST (notifications can arrive out of order)
    was answered `unknown` and forgotten; the late POST then created the event the
    aggregator had already cancelled."""
    delete = {
        "objectType": "EVENT",
        "operation": "DELETE",
        "object": {"id": "late", "modificationDateTime": "2026-11-29T09:50:00Z"},
    }
    status, answer, _ = await agg.send(delete)
    assert (status, answer) == (200, {"event_id": "late", "status": "unknown"})
    plan = _kw(entry)
    status, answer, _ = await agg.send(_cap("late", *VALLEY, 3.0, modified="2026-11-29T09:40:00Z"))
    assert (status, answer["status"]) == (200, "stale")
    assert "late" not in _dispatch(entry).book.records
    assert _kw(entry) == plan
    # A newer one (the aggregator made it again after the cancel) is taken.
    status, answer, _ = await agg.send(_cap("late", *VALLEY, 3.0, modified="2026-11-29T09:55:00Z"))
    assert (status, answer["status"]) == (200, "accepted")


async def test_8_a_put_with_an_older_modification_is_stale(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    def event(kw: float, modified: str, operation: str) -> dict[str, Any]:
        return {
            "objectType": "EVENT",
            "operation": operation,
            "object": {
                "id": "oadr-1",
                "programID": "feeder-7",
                "modificationDateTime": modified,
                "payloadDescriptors": [{"payloadType": "DISPATCH_SETPOINT", "units": "KW"}],
                "intervalPeriod": {"start": VALLEY[0], "duration": "PT2H"},
                "intervals": [
                    {"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT", "values": [kw]}]}
                ],
            },
        }

    status, answer, _ = await agg.send(event(6.0, "2026-11-29T09:30:00Z", "POST"))
    assert (status, answer["operation"]) == (200, "created")
    plan = _kw(entry)
    status, answer, _ = await agg.send(event(1.0, "2026-11-29T09:00:00Z", "PUT"))
    assert (status, answer) == (200, {"event_id": "oadr-1", "status": "stale"})
    assert _kw(entry) == plan
    same = await agg.send(event(1.0, "2026-11-29T09:30:00Z", "PUT"))  # equal: not newer
    assert same[1]["status"] == "stale"
    assert max(_window_kw(entry, *VALLEY)) <= 6.0 + 1e-6


async def test_9_a_request_while_the_charger_is_unavailable(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    """The charger does not answer: the home cannot act now and says so; the event is
    kept (the cap holds once the charger is back) and nothing raises."""
    entry.runtime_data.home.driver.reachable = False
    await advance(hass, freezer, 1)
    assert hass.states.get("sensor.garage_current_limit").state == "unavailable"
    status, answer, _ = await agg.send(_cap("while-down", *VALLEY, 5.0))
    assert status == 200
    assert "charger_unavailable" in answer["reasons"]
    assert answer["status"] == "partially_accepted"
    assert "while-down" in _dispatch(entry).book.records
    entry.runtime_data.home.driver.reachable = True
    await advance(hass, freezer, 1)
    assert max(_window_kw(entry, *VALLEY)) <= 5.0 + 1e-6


async def test_10_participation_switched_off_mid_event(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    ended = async_capture_events(hass, "evflex_dispatch_ended")
    normal = _kw(entry)
    status, _, _ = await agg.send(cheap_now())  # 18:00-19:00: charge now
    assert status == 200
    await advance(hass, freezer, 10)
    assert hass.states.get("sensor.garage_dispatch_active_event").state == "cheap"
    assert _limit(hass) == 16.0
    await hass.services.async_call(
        "switch",
        "turn_off",
        {"entity_id": "switch.garage_flexibility_participation"},
        blocking=True,
    )
    await advance(hass, freezer, 1)
    assert not _dispatch(entry).book.records
    assert [e.data["why"] for e in ended] == ["participation_off"]
    assert _dispatch(entry).log[-1]["why"] == "participation_off"
    assert hass.states.get("sensor.garage_dispatch_active_event").state == "none"
    assert _limit(hass) == 0.0  # back to the normal plan: the peak, nothing until 22:00
    assert _kw(entry)[-len(normal) + 1 :][:4] == [0.0] * 4
    # And the next request is refused, changing nothing.
    status, answer, _ = await agg.send(cheap_now("again"))
    assert (status, answer) == (403, {"status": "declined", "reason": "participation_off"})


async def test_11_a_window_across_the_autumn_clock_change(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_client_no_auth: Any,
) -> None:
    """Berlin, 25 Oct 2026: the clocks go back from 03:00 CEST to 02:00 CET (01:00 UTC).
    A 5 kW cap from 00:00 to 02:00 UTC (02:00 CEST to 03:00 CET) lasts 2 hours: 8
    quarter hours, the local 02:00-03:00 twice; each is capped, metered and reported."""
    from datetime import datetime

    from homeassistant.util import dt as dt_util

    await hass.config.async_set_time_zone("Europe/Berlin")
    freezer.move_to(datetime(2026, 10, 24, 23, 50, tzinfo=dt_util.UTC))
    entry = await setup_entry(hass)
    await _mode(hass, "fast")
    await _dispatch(entry).async_set_participation(True)
    agg = Aggregator(await hass_client_no_auth(), entry)
    status, answer, _ = await agg.send(
        _cap("dst", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", 5.0)
    )
    assert (status, answer["status"]) == (200, "accepted")
    starts = [r["start"] for r in answer["expected_ev_kw"]]
    # Instants (the plan writes them in its start's offset, +02:00): 00:00 to 01:45 UTC.
    assert [
        datetime.fromisoformat(t).astimezone(dt_util.UTC).strftime("%H:%M") for t in starts
    ] == [
        "00:00",
        "00:15",
        "00:30",
        "00:45",
        "01:00",
        "01:15",
        "01:30",
        "01:45",
    ]
    assert [r["expected_kw"] for r in answer["expected_ev_kw"]] == [5.0] * 8
    await advance(hass, freezer, 135, step_s=300)  # to 02:05 UTC: ended
    (report,) = _dispatch(entry).log
    # The fast baseline: 11.04 kW x 2 h = 22.08 kWh. Drawn: 5 kW -> 7 A = 4.83 kW in
    # whole amps, 1.2075 kWh per quarter hour, 9.66 kWh. Delivered 12.42 kWh, 6.21 kW.
    assert [r["start"] for r in report["intervals"]] == starts
    assert [r["usage_kwh"] for r in report["intervals"]] == pytest.approx([1.2075] * 8)
    assert report["baseline_kwh"] == pytest.approx(22.08)
    assert report["delivered_kwh"] == pytest.approx(12.42)
    assert report["delivered_kw"] == pytest.approx(6.21)


async def test_12_a_modification_time_in_the_future_is_refused(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    """Finding 12: a modification time far ahead (a wrong clock, or a hostile sender with
    the key) made the event impossible to update or cancel (only a newer one wins), and
    a cancel so dated kept the id dead past its 8 days. More than the 5 minutes of clock
    skew the signature allows is refused, naming the field."""
    plan = _kw(entry)
    status, answer, _ = await agg.send(_cap("x", *VALLEY, 3.0, modified="2099-01-01T00:00:00Z"))
    assert (status, answer) == (400, {"error": "modified: must not be in the future"})
    delete = {
        "objectType": "EVENT",
        "operation": "DELETE",
        "object": {"id": "x", "modificationDateTime": "2026-11-29T10:06:00Z"},
    }
    status, answer, _ = await agg.send(delete)
    assert (status, answer) == (
        400,
        {"error": "object.modificationDateTime: must not be in the future"},
    )
    assert _kw(entry) == plan
    assert not _dispatch(entry).book.cancelled
    # Within the skew: taken.
    status, answer, _ = await agg.send(_cap("y", *VALLEY, 3.0, modified="2026-11-29T10:04:00Z"))
    assert (status, answer["status"]) == (200, "accepted")


async def test_13_the_number_of_events_held_is_bounded(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator
) -> None:
    """Finding 13: nothing bounded the events one home holds; a sender with the key could
    pile up thousands, each a signal in every plan and a row in the store. At most 64;
    updates and cancels of held events still pass."""
    from datetime import datetime

    from custom_components.evflex.dispatch.book import Record
    from custom_components.evflex.dispatch.events import parse

    now = datetime.fromisoformat("2026-11-29T10:00:00+00:00")
    book = _dispatch(entry).book
    for n in range(64):
        book.apply(Record(parse(_cap(f"held-{n}", *VALLEY, 8.0), now)))
    status, answer, _ = await agg.send(_cap("one-more", *VALLEY, 3.0))
    assert (status, answer) == (422, {"error": "id: at most 64 events may be held at once"})
    assert "one-more" not in book.records
    status, answer, _ = await agg.send(
        _cap("held-3", *VALLEY, 7.0, modified="2026-11-29T10:01:00Z")
    )
    assert (status, answer["operation"]) == (200, "updated")
    status, answer, _ = await agg.send({"id": "held-4", "cancel": True})
    assert (status, answer["status"]) == (200, "cancelled")


async def test_14_an_update_mid_event_keeps_what_was_delivered_before_it(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 14: an update replaced the event's record with a baseline from the update
    on, so the report of the whole event lost the quarter hours before the update."""
    await _mode(hass, "fast")
    hour = {**REDUCE, "end": "2026-11-29T11:00:00Z", "modified": "2026-11-29T09:00:00Z"}
    status, answer, _ = await agg.send(hour)  # 18:00-19:00, 5 kW below 11.04: 8 A
    assert (status, answer["status"]) == (200, "accepted")
    await advance(hass, freezer, 30)  # 18:30
    status, answer, _ = await agg.send(
        {**hour, "reduction_kw": 3.0, "modified": "2026-11-29T10:30:00Z"}
    )  # 3 kW below: 8.04 kW -> 11 A = 7.59 kW
    assert (status, answer["operation"]) == (200, "updated")
    await advance(hass, freezer, 31)  # 19:01: ended
    (report,) = _dispatch(entry).log
    # Four quarter hours, baseline 11.04 kW each: 11.04 kWh. Drawn: 8 A = 5.52 kW for
    # 30 min (2.76 kWh), then 11 A = 7.59 kW for 30 min (3.795 kWh): 6.555 kWh.
    assert len(report["intervals"]) == 4
    assert report["baseline_kwh"] == pytest.approx(11.04)
    assert [r["usage_kwh"] for r in report["intervals"]] == pytest.approx(
        [1.38, 1.38, 1.8975, 1.8975], abs=1e-4
    )
    assert report["delivered_kwh"] == pytest.approx(11.04 - 6.555, abs=1e-4)


async def test_15_forecast_requests_do_not_make_the_home_plan_each_time(
    hass: HomeAssistant, entry: MockConfigEntry, agg: Aggregator, freezer: FrozenDateTimeFactory
) -> None:
    """Finding 15: each signed GET of the forecast made a plan (with the car away, one
    ahead): a sender with the key kept the solver busy at the rate limit (2 per second)
    with answers that had not changed. The forecast is kept until an input changes (a
    new plan is asked for) or the slot ends."""
    from unittest.mock import patch

    from .test_dispatch import _signed

    home = entry.runtime_data.home
    home.driver.plug(False)
    await advance(hass, freezer, 3)
    dispatch = _dispatch(entry)
    real = home.async_plan_ahead
    calls: list[object] = []

    async def counted(*args: Any) -> Any:
        calls.append(args)
        return await real(*args)

    async def get(msg_id: str) -> Any:
        headers = {**_signed(dispatch.keys.current, b"", msg_id), "x-evflex-view": "forecast"}
        resp = await agg.client.get(agg.url, headers=headers)
        assert resp.status == 200
        return await resp.json()

    with patch.object(home, "async_plan_ahead", counted):
        first = await get("f1")
        again = await get("f2")
        assert again == first
        assert len(calls) == 1
        # A change of inputs (here the target) asks for a new plan: planned again.
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.garage_target_state_of_charge", "value": 90},
            blocking=True,
        )
        changed = await get("f3")
        assert len(calls) == 2
        assert changed["assumption"]["target_soc_pct"] == 90.0
        # A new slot: planned again.
        await advance(hass, freezer, 15)
        await get("f4")
        assert len(calls) == 3
