"""The owner's side of dispatch, through the options flow and HA's real HTTP stack.

The home of conftest (Shanghai, CNY): the options step "dispatch" shows the URLs,
creates a secret or token shown once, switches the authentication, and takes the
programme's terms; the earnings sensors follow the events' M&V reports.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

# Imported before any test freezes the clock: HA's diagnostics handler imports it
# lazily, and that import fails under freezegun.
import aiohasupervisor  # noqa: F401
import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from standardwebhooks.webhooks import Webhook

from custom_components.evflex.dispatch.manager import RateLimit

from .conftest import advance, setup_entry
from .owner import (
    UNAUTHORIZED,
    Client,
    Sender,
    dispatch_of,
    form,
    new_credential,
    open_dispatch,
    price_event,
    save,
    signed,
)

# --- the step, the secret shown once --------------------------------------------------


async def test_step_shows_the_urls_and_says_no_secret_was_shown(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    dispatch = dispatch_of(entry)
    result = await open_dispatch(hass, entry)
    # No one has seen the secret generated at set-up: the form says to create one.
    assert result["step_id"] == "dispatch_first"
    placeholders = result["description_placeholders"]
    assert placeholders["local_url"].endswith(f"/api/webhook/{dispatch.webhook_id}")
    assert placeholders["cloud_url"] == "-"  # no HA Cloud here
    assert placeholders["currency"] == "CNY"
    assert dispatch.keys.current not in json.dumps(result, default=str)
    schema = result["data_schema"].schema
    assert {str(k) for k in schema} == set(form())
    # The set-up notification says where to get the secret, without it.
    notes = hass.data["persistent_notification"]
    assert "evflex_dispatch_setup_garage-entry" in notes
    assert all(dispatch.keys.current not in json.dumps(n, default=str) for n in notes.values())


async def test_terms_are_validated_naming_the_field(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    result = await open_dispatch(hass, entry)
    from homeassistant.data_entry_flow import InvalidData

    # The form's own rule (the number selector): at least 0, named with its field.
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.options.async_configure(result["flow_id"], form(reward_per_kw=-1))
    assert err.value.schema_errors == {"reward_per_kw": "Value -1.0 is too small"}
    assert "reward_per_kw" not in entry.options


async def test_a_new_secret_is_shown_once_and_is_the_one_that_verifies(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender, hass_storage: dict[str, Any]
) -> None:
    unseen = dispatch_of(entry).keys.current
    secret = await new_credential(hass, entry)
    assert secret.startswith("whsec_")
    assert secret != unseen
    # The first secret nobody saw is replaced outright (no overlap to keep for it).
    assert await sender.signed(price_event("a"), unseen) == UNAUTHORIZED
    status, answer = await sender.signed(price_event("b"), secret)
    assert (status, answer["status"]) == (200, "accepted")
    # Kept in the dispatch store, not in the entry.
    stored = hass_storage[f"evflex.dispatch.{entry.entry_id}"]["data"]
    assert stored["keys"]["current"] == secret
    assert secret not in json.dumps({**entry.data, **entry.options})
    assert entry.options["dispatch_auth"] == "standard_webhooks"
    # Shown once: the step now says a secret has been given out.
    result = await open_dispatch(hass, entry)
    assert result["step_id"] == "dispatch"
    assert secret not in json.dumps(result, default=str)


async def test_rotation_through_the_options_keeps_the_old_secret_for_the_overlap(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender, freezer: FrozenDateTimeFactory
) -> None:
    first = await new_credential(hass, entry)
    second = await new_credential(hass, entry)
    assert second != first
    # Within the 24 h overlap both verify (the aggregator may not have switched yet).
    assert (await sender.signed(price_event("a"), first))[0] == 200
    assert (await sender.signed(price_event("b"), second))[0] == 200
    freezer.tick(timedelta(hours=23, minutes=59))
    assert (await sender.signed(price_event("c", day=30), first))[0] == 200
    # After it, the old one is refused with no detail; the new one still works.
    freezer.tick(timedelta(minutes=2))
    dispatch_of(entry).rate.tokens = 10
    assert await sender.signed(price_event("d", day=30), first) == UNAUTHORIZED
    assert (await sender.signed(price_event("e", day=30), second))[0] == 200


# --- bearer mode end to end -----------------------------------------------------------


async def test_bearer_mode_end_to_end_and_back(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender
) -> None:
    secret = await new_credential(hass, entry)
    token = await new_credential(hass, entry, mode="bearer")
    assert entry.options["dispatch_auth"] == "bearer"  # the entry reloaded in bearer mode
    dispatch = dispatch_of(entry)
    assert dispatch.participating
    assert dispatch.auth_mode == "bearer"
    # Accepted with the token; the answer is signed keyed by the token's bytes.
    status, answer, headers = await sender.bearer(price_event("a"), f"Bearer {token}", "b1")
    assert (status, answer["status"]) == (200, "accepted")
    Webhook(token.encode()).verify(json.dumps(answer, separators=(",", ":")), headers)
    # The same webhook-id again is a retry: the first answer, nothing changed.
    again = await sender.bearer(price_event("a"), f"Bearer {token}", "b1")
    assert again[1] == answer
    assert again[2]["X-EVFlex-Replay"] == "1"
    # Not both: a Standard Webhooks signature alone is refused in bearer mode.
    assert await sender.signed(price_event("b"), secret) == UNAUTHORIZED
    # Missing, wrong, another scheme, a token with a space: 401, no detail, no signature.
    for header in (None, "Bearer ", f"Bearer {token}x", f"Basic {token}", token, "Bearer a b"):
        status, answer, headers = await sender.bearer(price_event("c"), header)
        assert (status, answer) == UNAUTHORIZED, header
        assert "webhook-signature" not in headers
    # Back to Standard Webhooks: the token is refused, the secret accepted again.
    await save(hass, entry, dispatch_auth="standard_webhooks")
    assert dispatch_of(entry).auth_mode == "standard_webhooks"
    status, answer, _ = await sender.bearer(price_event("d"), f"Bearer {token}")
    assert (status, answer) == UNAUTHORIZED
    assert (await sender.signed(price_event("e"), secret))[0] == 200


async def test_bearer_mode_without_a_token_refuses_everything(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender
) -> None:
    # The form refuses bearer mode without a token (test_dispatch_owner_review.py);
    # options written another way (an older store lost its token) must fail closed.
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "dispatch_auth": "bearer"}
    )
    await hass.async_block_till_done()
    assert dispatch_of(entry).auth_mode == "bearer"
    assert dispatch_of(entry).token is None
    for header in (None, "Bearer ", "Bearer None"):
        status, answer, _ = await sender.bearer(price_event("a"), header)
        assert (status, answer) == UNAUTHORIZED
    result = await open_dispatch(hass, entry)
    assert result["step_id"] == "dispatch_first"  # no token was ever shown


@pytest.fixture
async def diagnostics_component(hass: HomeAssistant) -> None:
    """Set up before any test client freezes HA's router."""
    from homeassistant.setup import async_setup_component

    assert await async_setup_component(hass, "diagnostics", {})


async def test_secrets_never_in_the_log_or_the_diagnostics(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    diagnostics_component: None,
    sender: Sender,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = await new_credential(hass, entry)
    await sender.signed(price_event("a"), secret)
    await sender.signed(price_event("b"), "whsec_" + "A" * 32)
    token = await new_credential(hass, entry, mode="bearer")
    await sender.bearer(price_event("c"), f"Bearer {token}")
    await sender.bearer(price_event("d"), f"Bearer {token[:-1]}")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, _entry(hass))
    text = json.dumps(diagnostics)
    assert diagnostics["dispatch"]["auth"] == "bearer"
    assert diagnostics["dispatch"]["has_token"] is True
    # The test harness's in-memory store logs what it is given; HA's Store does not.
    logged = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("pytest_homeassistant")
    )
    assert "Dispatch request refused" in logged  # the refusals were logged, at debug
    for value in (secret, token, token[:-1]):
        assert value not in text
        assert value not in logged
    # The webhook id is in the URL, which HA's own webhook and access logs name: not
    # a secret of EVFlex's, but the diagnostics leave it out.
    assert dispatch_of(entry).webhook_id not in text
    assert "webhook-signature" not in text


def _entry(hass: HomeAssistant) -> Any:
    return hass.config_entries.async_get_entry("garage-entry")


# --- the reward -----------------------------------------------------------------------


def _state(hass: HomeAssistant, key: str) -> Any:
    found = hass.states.get(f"sensor.garage_{key}")
    assert found is not None, key
    return found


async def test_driver_first_is_an_option(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert dispatch_of(entry)._context(datetime.now(UTC)).driver_first is True
    await save(hass, entry, dispatch_driver_first=False)
    assert entry.options["dispatch_driver_first"] is False
    assert dispatch_of(entry)._context(datetime.now(UTC)).driver_first is False


async def test_earnings_follow_the_terms_and_survive_a_restart(
    hass: HomeAssistant,
    night: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_client_no_auth: Client,
) -> None:
    entry = night
    month = _state(hass, "programme_earnings_this_month")
    total = _state(hass, "programme_earnings_total")
    assert (month.state, total.state) == ("0.0", "0.0")
    assert month.attributes["unit_of_measurement"] == "CNY"
    assert month.attributes["device_class"] == "monetary"
    assert month.attributes["state_class"] == "total"
    # The month's first instant in Shanghai: 1 Nov 00:00 +08:00 = 31 Oct 16:00 UTC.
    reset = datetime.fromisoformat(month.attributes["last_reset"])
    assert reset == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    terms: dict[str, Any] = {"reward_monthly": 10, "reward_per_kw": 10, "reward_per_kwh": 0.8}
    secret = await new_credential(hass, entry, **terms)
    assert {k: entry.options[k] for k in terms} == terms
    assert float(_state(hass, "programme_earnings_this_month").state) == 0.0  # not taking part
    # Participation on: November's fixed 10 CNY is earned.
    await dispatch_of(entry).async_set_participation(True)
    await hass.async_block_till_done()
    assert float(_state(hass, "programme_earnings_this_month").state) == 10.0
    # A 6 A cap (4.14 kW) for half an hour where the plan would draw 11.04 kW.
    sender = Sender(await hass_client_no_auth(), entry)
    status, answer = await sender.signed(
        {
            "id": "cap",
            "type": "ev_limit",
            "start": "2026-11-29T14:00:00Z",
            "end": "2026-11-29T14:30:00Z",
            "limit_kw": 4.14,
        },
        secret,
    )
    assert status == 200, answer
    await advance(hass, freezer, 32)
    report = dispatch_of(entry).log[-1]
    assert report["event_id"] == "cap"
    # About 11.04 - 4.14 = 6.9 kW delivered (the first minutes ramp with the cycle).
    # The plan moved the half hour's charging later (the valley lasts until 06:00):
    # metered 0 kWh against the baseline's 11.04 kW x 0.5 h = 5.52 kWh. Delivered
    # 5.52 kWh, mean 5.52 / 0.5 = 11.04 kW: 10 x 11.04 + 0.8 x 5.52 = 110.4 + 4.416.
    assert answer["average_ev_kw"] == 0.0
    assert (report["metered_kwh"], report["delivered_kwh"]) == (0.0, 5.52)
    assert report["delivered_kw"] == 11.04
    earned = 114.816
    assert report["reward"] == pytest.approx(earned, abs=1e-9)
    assert float(_state(hass, "programme_earnings_this_month").state) == pytest.approx(10 + earned)
    assert float(_state(hass, "programme_earnings_total").state) == pytest.approx(10 + earned)
    # A restart (the entry reloaded): the same figures, nothing paid twice.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, 2)
    assert float(_state(hass, "programme_earnings_this_month").state) == pytest.approx(10 + earned)
    assert float(_state(hass, "programme_earnings_total").state) == pytest.approx(10 + earned)
    # December in Shanghai (30 Nov 16:00 UTC): the month starts at 0 until December's
    # fixed payment is credited at the next cycle; the total keeps November's.
    freezer.move_to(datetime(2026, 11, 30, 16, 0, 30, tzinfo=UTC))
    await advance(hass, freezer, 1)
    month = _state(hass, "programme_earnings_this_month")
    assert float(month.state) == 10.0
    reset = datetime.fromisoformat(month.attributes["last_reset"])
    assert reset == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert float(_state(hass, "programme_earnings_total").state) == pytest.approx(20 + earned)


# --- bearer mode under hostile headers --------------------------------------------------


async def test_fuzzed_bearer_headers_are_refused_and_change_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender
) -> None:
    """A valid event under every wrong credential hypothesis can make (near-miss tokens,
    other schemes, the Standard Webhooks signature that would pass in the other mode,
    random text): 401 with no detail, no plan, signal or book changed, nothing fired."""
    secret = await new_credential(hass, entry)
    token = await new_credential(hass, entry, mode="bearer")
    dispatch = dispatch_of(entry)
    dispatch.rate = RateLimit(10**9, 10**9)  # the limit has its own test
    home = entry.runtime_data.home
    outcome, signals, book = home.planner.outcome, home.signals, dispatch.book.to_dict()
    received = async_capture_events(hass, "evflex_dispatch_received")
    event = price_event("fuzz")
    body = json.dumps(event).encode()
    loop = asyncio.get_running_loop()
    near = st.sampled_from(
        [token[:-1], token + "x", token.upper(), token[1:], f" {token[:-1]} ", "", secret]
    )
    values = st.one_of(
        st.builds(lambda v: f"Bearer {v}", near),
        st.builds(lambda s: f"{s} {token}", st.sampled_from(["Basic", "Token", "Bearer:"])),
        # What an HTTP client can send in a header: no control characters.
        st.text(
            st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
            max_size=60,
        ),
    )
    seen: list[int] = []

    async def post(header: str | None, sign_too: bool) -> tuple[int, str, bool]:
        headers = signed(secret, body, f"z{len(seen)}-{id(header)}") if sign_too else {}
        if header is not None:
            headers["Authorization"] = header
        resp = await sender.client.post(
            f"/api/webhook/{dispatch.webhook_id}", data=body, headers=headers
        )
        return resp.status, await resp.text(), "webhook-signature" in resp.headers

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(st.none(), values), st.booleans())
    def check(header: str | None, sign_too: bool) -> None:
        status, text, has_signature = asyncio.run_coroutine_threadsafe(
            post(header, sign_too), loop
        ).result(30)
        seen.append(status)
        assert (status, json.loads(text)) == UNAUTHORIZED, header
        assert not has_signature

    await loop.run_in_executor(None, check)
    assert len(seen) >= 150
    assert home.planner.outcome is outcome
    assert home.signals is signals
    assert dispatch.book.to_dict() == book
    assert not received
    # The exact token still works after all of that.
    status, answer, _ = await sender.bearer(event, f"Bearer {token}")
    assert (status, answer["status"]) == (200, "accepted")


async def test_a_secret_shown_by_the_earlier_notification_keeps_its_overlap(
    hass: HomeAssistant,
    shanghai: None,
    evening: datetime,
    hass_storage: dict[str, Any],
    hass_client_no_auth: Client,
) -> None:
    """A store written before the options step: its secret was in the set-up
    notification, so an aggregator may hold it; a new one must not cut it off."""
    from custom_components.evflex.dispatch.auth import generate_secret

    old = generate_secret()
    hass_storage["evflex.dispatch.garage-entry"] = {
        "version": 1,
        "minor_version": 1,
        "key": "evflex.dispatch.garage-entry",
        "data": {"keys": {"current": old}, "webhook_id": "a" * 64, "participating": True},
    }
    entry = await setup_entry(hass)
    result = await open_dispatch(hass, entry)
    assert result["step_id"] == "dispatch"  # it was shown
    new = await new_credential(hass, entry)
    sender = Sender(await hass_client_no_auth(), entry)
    assert (await sender.signed(price_event("a"), old))[0] == 200  # within the overlap
    assert (await sender.signed(price_event("b"), new))[0] == 200
