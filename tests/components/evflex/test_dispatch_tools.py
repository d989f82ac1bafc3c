"""The aggregator's tools against a real HA webhook (HA's HTTP stack on loopback).

`python -m aggregator dispatch ...` (its `main`) and the client library run in an
executor thread (they block, as a command line does) and talk HTTP to the test server.
The home of conftest: Shanghai, 18:00; the valley from 22:00 (14:00 UTC) charges at
11.04 kW, so a 3 kW reduction there leaves at most 11.04 - 3 = 8.04 kW.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
from openadr3.entities import raw
from pytest_homeassistant_custom_component.common import MockConfigEntry

from aggregator import dispatch as client
from aggregator.cli import main
from custom_components.evflex.dispatch.manager import Dispatch

type Client = Callable[[], Awaitable[TestClient[Any, Any]]]
DOCS = Path(__file__).parents[3] / "docs" / "dispatch"
VALLEY = 16  # 22:00 is the 17th quarter hour from 18:00


def _dispatch(entry: MockConfigEntry) -> Dispatch:
    dispatch: Dispatch | None = entry.runtime_data.dispatch
    assert dispatch is not None
    return dispatch


def _kw(entry: MockConfigEntry) -> list[float]:
    outcome = entry.runtime_data.home.planner.outcome
    assert outcome is not None
    return [s["ev_kw"] for s in outcome.response["slots"]]


@pytest.fixture
async def url(hass: HomeAssistant, entry: MockConfigEntry, hass_client_no_auth: Client) -> str:
    await _dispatch(entry).async_set_participation(True)
    test_client = await hass_client_no_auth()
    return str(test_client.make_url(f"/api/webhook/{_dispatch(entry).webhook_id}"))


async def test_cli_send_report_forecast(
    hass: HomeAssistant, entry: MockConfigEntry, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = _dispatch(entry).keys.current
    assert _kw(entry)[VALLEY : VALLEY + 4] == [11.04] * 4
    event = str(DOCS / "load-reduction.native.json")
    code = await hass.async_add_executor_job(
        main, ["dispatch", "send", url, "--secret", secret, event]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    answer = json.loads(out)
    assert (answer["event_id"], answer["status"]) == ("reduce-2026-11-29", "accepted")
    assert err.strip() == "HTTP 200, signed by the home"
    assert all(kw <= 8.04 + 1e-6 for kw in _kw(entry)[VALLEY : VALLEY + 4])

    code = await hass.async_add_executor_job(main, ["dispatch", "report", url, "--secret", secret])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert isinstance(json.loads(out), dict)

    code = await hass.async_add_executor_job(
        main, ["dispatch", "forecast", url, "--secret", secret]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert isinstance(json.loads(out), dict)


async def test_cli_refusals(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    plan = _kw(entry)
    event = str(DOCS / "feeder-cap.native.json")
    wrong = "whsec_" + "A" * 44
    code = await hass.async_add_executor_job(
        main, ["dispatch", "send", url, "--secret", wrong, event]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out) == {"error": "unauthorized"}
    assert err.strip() == "HTTP 401, NOT signed with this secret"
    # Malformed: the home names the field and the rule; exit 1.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "x", "type": "ev_limit"}), encoding="utf-8")
    secret = _dispatch(entry).keys.current
    code = await hass.async_add_executor_job(
        main, ["dispatch", "send", url, "--secret", secret, str(bad)]
    )
    out, _ = capsys.readouterr()
    assert code == 1
    assert json.loads(out) == {"error": "limit_kw: is required for a ev_limit event"}
    # Not sent at all: no secret, an unreadable file (exit 2).
    code = await hass.async_add_executor_job(main, ["dispatch", "send", url, event])
    assert code == 2
    code = await hass.async_add_executor_job(
        main, ["dispatch", "send", url, "--secret", secret, str(tmp_path / "none.json")]
    )
    assert code == 2
    assert _kw(entry) == plan


async def test_client_waits_out_a_429_and_keeps_the_message_id(
    hass: HomeAssistant, entry: MockConfigEntry, url: str
) -> None:
    dispatch = _dispatch(entry)
    dispatch.rate.tokens = 0.0  # the clock is frozen: nothing refills until the sleep
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the pause between attempts: the bucket refills
        waits.append(seconds)
        dispatch.rate.tokens = 1.0

    event = json.loads((DOCS / "load-reduction.native.json").read_text(encoding="utf-8"))
    answer = await hass.async_add_executor_job(
        lambda: client.send(url, dispatch.keys.current, event, sleep=sleep)
    )
    # Empty bucket at 2 tokens/s: 0.5 s to the next, Retry-After rounds it up to 1 s
    # (max(1, round(0.5 + 0.5))), above the first back-off of 0.5 s.
    assert waits == [1.0]
    assert (answer.status, answer.attempts, answer.signed) == (200, 2, True)
    assert answer.body["status"] == "accepted"
    ids = [e["id"] for e in list(dispatch.security)[-2:]]
    assert ids[0] == ids[1]  # the retry is the same message (a replay would be answered)


async def test_client_backs_off_then_gives_up_on_no_connection(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    waits: list[float] = []
    with pytest.raises(client.DispatchError, match="cannot connect"):
        await hass.async_add_executor_job(
            lambda: client.send(
                f"http://127.0.0.1:{port}/api/webhook/x",
                "whsec_" + "A" * 44,
                {},
                sleep=waits.append,
                retries=4,
            )
        )
    assert waits == [0.5, 1.0, 2.0, 4.0]  # doubling from 0.5 s, then the fifth attempt fails


async def test_an_openadr3_package_event_through_the_webhook(
    hass: HomeAssistant, entry: MockConfigEntry, url: str
) -> None:
    """Built with the `openadr3` package and serialised its way (nulls, snake_case
    wrapper, CREATE): accepted, and -3000 W relative means 3 kW below the baseline."""
    event = raw.RawEvent.model_validate(
        {
            "id": "oa3-reduce",
            "programID": "evening-peak",
            "modificationDateTime": "2026-11-29T09:00:00Z",
            "payloadDescriptors": [
                {
                    "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                    "payloadType": "DISPATCH_SETPOINT_RELATIVE",
                    "units": "W",
                }
            ],
            "intervalPeriod": {"start": "2026-11-29T14:00:00Z", "duration": "PT1H"},
            "intervals": [
                {"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT_RELATIVE", "values": [-3000]}]}
            ],
        }
    )
    notification = raw.RawNotification(
        object_type="EVENT", operation="CREATE", object=event.model_dump(by_alias=True)
    )
    body = json.loads(json.dumps(notification.model_dump(by_alias=True)))
    answer = await hass.async_add_executor_job(
        lambda: client.send(url, _dispatch(entry).keys.current, body)
    )
    assert answer.status == 200, answer.body
    assert (answer.body["event_id"], answer.body["status"]) == ("oa3-reduce", "accepted")
    assert all(kw <= 8.04 + 1e-6 for kw in _kw(entry)[VALLEY : VALLEY + 4])
    assert answer.body["delivered_kwh"] >= 3.0  # 3 kW x 1 h at least
