"""A hostile review of the owner's side of dispatch, through HA's real flows and HTTP.

Each test here is a way the options step "dispatch", the rotation, the answers or the
earnings could fail the homeowner; the home of conftest (Shanghai, CNY, 29 Nov 2026).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from hypothesis import given
from hypothesis import strategies as st
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.evflex.dispatch.auth import Keys
from custom_components.evflex.dispatch.manager import MAX_BODY, RateLimit
from custom_components.evflex.dispatch.reward import RULES, Earnings, Terms

from .conftest import advance
from .owner import (
    Client,
    Sender,
    dispatch_of,
    form,
    new_credential,
    open_dispatch,
    price_event,
)

TRANSLATIONS = Path(__file__).parents[3] / "custom_components" / "evflex" / "translations"
LANGUAGES = ("en", "zh-Hans")


def _unlimited(entry: MockConfigEntry) -> None:
    """The rate limit has its own tests; these send many requests in one frozen second."""
    dispatch_of(entry).rate = RateLimit(10**9, 10**9)


async def _status(sender: Sender, secret: str, eid: str) -> int:
    _unlimited(sender.entry)
    event = {**price_event(eid), "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T11:00:00Z"}
    status, answer = await sender.signed(event, secret)
    assert status in (200, 401), answer
    return status


# --- rotation ---------------------------------------------------------------------------


async def test_overlap_ends_exactly_24_hours_after_the_rotation(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender, freezer: FrozenDateTimeFactory
) -> None:
    old = await new_credential(hass, entry)
    new = await new_credential(hass, entry)  # rotated at t0
    freezer.tick(timedelta(hours=24) - timedelta(seconds=1))
    assert await _status(sender, old, "a") == 200  # t0 + 23:59:59: still in the overlap
    freezer.tick(timedelta(seconds=1))
    assert await _status(sender, old, "b") == 401  # t0 + 24:00:00: [t0, t0 + 24 h) is over
    assert await _status(sender, new, "c") == 200


async def test_rotating_twice_keeps_each_given_out_secret_for_its_own_24_hours(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender, freezer: FrozenDateTimeFactory
) -> None:
    """The secret page promised "the previous secret is still accepted for 24 hours":
    a second new secret an hour later must not cut off an aggregator still on the first."""
    a = await new_credential(hass, entry)
    b = await new_credential(hass, entry)  # t0: a is accepted until t0 + 24 h
    freezer.tick(timedelta(hours=1))
    c = await new_credential(hass, entry)  # t0 + 1 h: b until t0 + 25 h
    for n, secret in enumerate((a, b, c)):
        assert await _status(sender, secret, f"x{n}") == 200, n
    freezer.tick(timedelta(hours=23))  # t0 + 24 h
    assert await _status(sender, a, "a1") == 401
    assert await _status(sender, b, "b1") == 200
    freezer.tick(timedelta(hours=1))  # t0 + 25 h
    assert await _status(sender, b, "b2") == 401
    assert await _status(sender, c, "c2") == 200


async def test_a_restart_within_the_overlap_keeps_the_old_secret_until_it_ends(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    hass_client_no_auth: Client,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    await dispatch_of(entry).async_set_participation(True)
    old = await new_credential(hass, entry)
    new = await new_credential(hass, entry)  # t0
    stored = hass_storage[f"evflex.dispatch.{entry.entry_id}"]["data"]["keys"]
    assert (stored["current"], stored["previous"]) == (new, old)  # saved at once
    freezer.tick(timedelta(hours=2))
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    aggregator = Sender(await hass_client_no_auth(), entry)
    assert await _status(aggregator, old, "a") == 200
    assert await _status(aggregator, new, "b") == 200
    # Home Assistant down past the overlap's end: the old one is refused after it.
    assert await hass.config_entries.async_unload(entry.entry_id)
    freezer.tick(timedelta(hours=23))  # t0 + 25 h
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert await _status(aggregator, old, "c") == 401
    assert await _status(aggregator, new, "d") == 200


async def test_switching_to_bearer_without_a_token_is_refused_by_the_form(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender
) -> None:
    """Saving bearer mode with no token would refuse every request, including those of
    the aggregator signing with the secret, and leave the owner nothing to give out."""
    secret = await new_credential(hass, entry)
    shown = await open_dispatch(hass, entry)
    result = await hass.config_entries.options.async_configure(
        shown["flow_id"], form(dispatch_auth="bearer")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"new_credential": "token_required"}
    assert entry.options.get("dispatch_auth", "standard_webhooks") == "standard_webhooks"
    assert await _status(sender, secret, "a") == 200  # still taking requests
    # Ticking "create" on the same form is the way through.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form(dispatch_auth="bearer", new_credential=True)
    )
    assert result["step_id"] == "dispatch_token"


# --- shown once, never in an answer to a stranger ---------------------------------------


async def test_the_secret_page_read_again_does_not_show_it_again(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    shown = await open_dispatch(hass, entry)
    result = await hass.config_entries.options.async_configure(
        shown["flow_id"], form(new_credential=True)
    )
    secret = result["description_placeholders"]["secret"]
    # What the frontend does when it reloads a flow's page (GET .../flow/<id>): the
    # step again with no input. The options are saved; the secret is not shown again.
    again = await hass.config_entries.options.async_configure(result["flow_id"])
    assert again["type"] is FlowResultType.CREATE_ENTRY
    assert secret not in json.dumps(again, default=str)
    assert secret not in json.dumps(dict(entry.options))


async def test_answers_before_authentication_carry_no_signature(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender
) -> None:
    """An oversized body (413) is answered before the request is authenticated (so was
    the rate limit's 429, see below): a stranger must not get a signature made with
    the secret (it signs the aggregator's requests too), as with a 401."""
    await new_credential(hass, entry)
    url = f"/api/webhook/{dispatch_of(entry).webhook_id}"
    resp = await sender.client.post(url, data=b"x" * (MAX_BODY + 1))
    assert resp.status == 413
    assert "webhook-signature" not in resp.headers
    resp = await sender.client.post(url, data=b"{}")
    assert resp.status == 401
    assert "webhook-signature" not in resp.headers


# --- the terms through the options flow -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("ten", "expected float"),  # the selector's own rule, naming the field
        (2_000_000, "Value 2000000.0 is too large"),
    ],
)
async def test_terms_the_selector_refuses_name_the_field(
    hass: HomeAssistant, entry: MockConfigEntry, value: Any, error: str
) -> None:
    result = await open_dispatch(hass, entry)
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.options.async_configure(
            result["flow_id"], form(reward_monthly=value)
        )
    assert err.value.schema_errors == {"reward_monthly": error}


async def test_a_nan_term_passes_the_selector_and_is_refused_by_name(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    result = await open_dispatch(hass, entry)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], form(reward_per_kwh=float("nan"), reward_per_kw=float("nan"))
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"reward_per_kwh": "not_a_number", "reward_per_kw": "not_a_number"}
    assert "reward_per_kwh" not in entry.options


# --- translations: every step, field, error and placeholder, in both languages -----------


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


async def test_every_dispatch_step_is_translated_with_its_placeholders(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    results: list[Any] = [await open_dispatch(hass, entry)]  # dispatch_first
    step = await hass.config_entries.options.async_configure(
        results[0]["flow_id"], form(new_credential=True)
    )
    results.append(step)  # dispatch_secret
    await hass.config_entries.options.async_configure(step["flow_id"], {})
    await hass.async_block_till_done()  # the entry reloads with the options
    results.append(await open_dispatch(hass, entry))  # dispatch
    step = await hass.config_entries.options.async_configure(
        results[-1]["flow_id"], form(dispatch_auth="bearer", new_credential=True)
    )
    results.append(step)  # dispatch_token
    await hass.config_entries.options.async_configure(step["flow_id"], {})
    await hass.async_block_till_done()  # the entry reloads with the options
    ids = [r["step_id"] for r in results]
    assert ids == ["dispatch_first", "dispatch_secret", "dispatch", "dispatch_token"]
    errors = {*RULES.values(), "token_required", "secret_required"}
    for language in LANGUAGES:
        strings = json.loads((TRANSLATIONS / f"{language}.json").read_text())["options"]
        for result in results:
            text = strings["step"][result["step_id"]]
            given = set(result["description_placeholders"] or {})
            assert text["title"], (language, result["step_id"])
            assert _placeholders(text["description"]) <= given, (language, result["step_id"])
            fields = {str(k) for k in result["data_schema"].schema}
            assert set(text.get("data", {})) == fields, (language, result["step_id"])
            helps = text.get("data_description", {})
            assert set(helps) <= fields
            for help_text in helps.values():
                assert _placeholders(help_text) <= given, (language, result["step_id"])
        assert errors <= set(strings["error"]), language
        assert "not_loaded" in strings["abort"], language
        selector = json.loads((TRANSLATIONS / f"{language}.json").read_text())["selector"]
        assert set(selector["dispatch_auth"]["options"]) == {"standard_webhooks", "bearer"}


# --- the earnings (pure: hand-worked figures) ---------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _report(eid: str, kw: float, kwh: float, start: str = "2026-11-29T10:00:00+00:00") -> Any:
    return {"event_id": eid, "start": start, "delivered_kw": kw, "delivered_kwh": kwh}


def test_events_that_delivered_nothing_earn_nothing_and_two_events_add_up() -> None:
    terms = Terms(monthly=0, per_kw=10, per_kwh=0.8)
    earnings = Earnings()
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    # Metered more than the baseline: the report's delivery is negative, the pay 0.
    assert earnings.credit_event(terms, _report("none", -2.0, -1.0), now, SHANGHAI) == 0.0
    # 10 x 2 + 0.8 x 1 = 20.8, then 10 x 0.5 + 0.8 x 0.25 = 5.2: 26.0 in November.
    assert earnings.credit_event(terms, _report("a", 2.0, 1.0), now, SHANGHAI) == 20.8
    assert earnings.credit_event(terms, _report("b", 0.5, 0.25), now, SHANGHAI) == 5.2
    assert earnings.this_month(now, SHANGHAI) == pytest.approx(26.0)
    # The same report again (a second end of the same event) is not paid twice.
    assert earnings.credit_event(terms, _report("a", 2.0, 1.0), now, SHANGHAI) == 0.0
    assert earnings.total == pytest.approx(26.0)


def test_an_event_across_the_month_boundary_is_paid_in_the_month_it_ended() -> None:
    terms = Terms(monthly=10, per_kw=0, per_kwh=1)
    earnings = Earnings()
    november = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    assert earnings.credit_month(terms, november, SHANGHAI) == 10
    # Ended 1 Dec 00:30 in Shanghai (30 Nov 16:30 UTC), 3 kWh delivered: December's.
    ended = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    assert earnings.credit_event(terms, _report("x", 2, 3), ended, SHANGHAI) == 3
    assert earnings.this_month(ended, SHANGHAI) == 3  # December's fixed 10 not yet seen
    assert earnings.credit_month(terms, ended, SHANGHAI) == 10
    assert (earnings.this_month(ended, SHANGHAI), earnings.total) == (13, 23)
    # Terms changed within December: its fixed payment is not paid again.
    assert earnings.credit_month(Terms(monthly=20), ended, SHANGHAI) == 0.0


async def test_participation_off_and_on_again_pays_the_month_once(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender, freezer: FrozenDateTimeFactory
) -> None:
    await new_credential(hass, entry, reward_monthly=10)
    dispatch = dispatch_of(entry)
    await dispatch.async_set_participation(True)
    await dispatch.async_set_participation(False)
    await dispatch.async_set_participation(True)
    assert (dispatch.earnings.month_amount, dispatch.earnings.total) == (10, 10)
    # Off on 29 Nov; the December cycles do not pay December while it is off.
    await dispatch.async_set_participation(False)
    freezer.move_to(datetime(2026, 12, 2, 4, 0, tzinfo=UTC))
    await dispatch.async_tick()
    assert dispatch.earnings.total == 10
    assert dispatch.earnings.this_month(datetime.now(UTC), SHANGHAI) == 0.0
    # Switched on in December: December's 10 (20 in all).
    await dispatch.async_set_participation(True)
    assert dispatch.earnings.total == 20


# --- the keys' rule, as a property --------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=30 * 3600), min_size=1, max_size=7))
def test_every_replaced_secret_is_valid_until_24_hours_after_its_replacement(
    gaps_s: list[int],
) -> None:
    """Rotations `gaps_s` seconds apart: at any moment a secret is accepted iff it is the
    current one or was replaced less than 24 h before (and the store keeps that)."""
    overlap = timedelta(hours=24)
    t = datetime(2026, 11, 29, tzinfo=UTC)
    keys = Keys("k0")
    replaced: dict[str, datetime] = {}
    for n, gap in enumerate(gaps_s, start=1):
        t += timedelta(seconds=gap)
        replaced[keys.current] = t
        keys = Keys.from_dict(keys.rotated(f"k{n}", t, overlap).to_dict())
    for probe_h in (0, 1, 12, 23.99, 24, 30, 200):
        now = t + timedelta(hours=probe_h)
        expected = {keys.current} | {k for k, at in replaced.items() if now < at + overlap}
        assert set(keys.valid(now)) == expected


# --- switching the authentication: what the new-token page says ---------------------------


async def test_a_token_made_while_switching_to_bearer_works_once_the_page_is_submitted(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender
) -> None:
    """The page said "it is already in force": not while the mode switch is unsaved."""
    secret = await new_credential(hass, entry)
    shown = await open_dispatch(hass, entry)
    page = await hass.config_entries.options.async_configure(
        shown["flow_id"], form(dispatch_auth="bearer", new_credential=True)
    )
    token = page["description_placeholders"]["secret"]
    _unlimited(entry)
    # Not yet: the mode in force is still Standard Webhooks (the secret still works).
    status, _, _ = await sender.bearer(price_event("a"), f"Bearer {token}")
    assert status == 401
    assert await _status(sender, secret, "b") == 200
    for language in LANGUAGES:
        strings = json.loads((TRANSLATIONS / f"{language}.json").read_text())["options"]
        for step in ("dispatch_secret", "dispatch_token"):
            text = strings["step"][step]["description"]
            # The unconditional claim ("already in force;", 它已经生效 + a full-width ";").
            assert "already in force;" not in text, language
            assert "\u5b83\u5df2\u7ecf\u751f\u6548\uff1b" not in text, language
    # Submitted: bearer mode, the token in force, the secret refused.
    await hass.config_entries.options.async_configure(page["flow_id"], {})
    await hass.async_block_till_done()
    _unlimited(entry)
    status, answer, _ = await sender.bearer(price_event("c"), f"Bearer {token}")
    assert (status, answer["status"]) == (200, "accepted")
    assert await _status(sender, secret, "d") == 401


# --- an event cancelled part way through a quarter hour ----------------------------------


async def test_an_event_cancelled_early_is_paid_for_the_minutes_that_passed(
    hass: HomeAssistant,
    night: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_client_no_auth: Client,
) -> None:
    entry = night
    secret = await new_credential(hass, entry, reward_per_kwh=0.8)
    await dispatch_of(entry).async_set_participation(True)
    aggregator = Sender(await hass_client_no_auth(), entry)
    cap = {
        "id": "cap",
        "type": "ev_limit",
        "start": "2026-11-29T14:00:00Z",
        "end": "2026-11-29T15:00:00Z",
        "limit_kw": 4.14,
    }
    status, answer = await aggregator.signed(cap, secret)
    assert status == 200, answer
    await advance(hass, freezer, 20)  # 14:20 UTC: the plan moved the charging later
    cancel = {"id": "cap", "cancel": True, "modified": "2026-11-29T14:20:00Z"}
    status, answer = await aggregator.signed(cancel, secret)
    assert (status, answer["status"]) == (200, "cancelled")
    report = dispatch_of(entry).log[-1]
    assert (report["why"], report["metered_kwh"]) == ("cancelled", 0.0)
    # 20 minutes of the baseline's 11.04 kW passed: 11.04 x 20/60 = 3.68 kWh delivered
    # (not 2 x 2.76 = 5.52, the whole 14:15 quarter counted after 5 of its minutes),
    # paid 0.8 x 3.68 = 2.944.
    assert report["delivered_kwh"] == pytest.approx(3.68)
    assert report["reward"] == pytest.approx(2.944)


# --- the currency when Home Assistant's changes ------------------------------------------


async def test_earnings_keep_their_currency_when_home_assistants_changes(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """10 CNY earned stay 10 CNY: not relabelled 10 EUR at the next reload, and the
    terms (entered in CNY) are still said to be in CNY."""
    await new_credential(hass, entry, reward_monthly=10)
    await dispatch_of(entry).async_set_participation(True)
    await hass.async_block_till_done()
    await hass.config.async_update(currency="EUR")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    for key in ("programme_earnings_this_month", "programme_earnings_total"):
        state = hass.states.get(f"sensor.garage_{key}")
        assert state is not None
        assert (state.state, state.attributes["unit_of_measurement"]) == ("10.0", "CNY"), key
    result = await open_dispatch(hass, entry)
    assert result["description_placeholders"]["currency"] == "CNY"
    assert dispatch_of(entry).earnings.to_dict()["currency"] == "CNY"  # kept in the store


def test_earnings_take_the_currency_of_their_first_figure() -> None:
    earnings = Earnings()
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    earnings.credit_month(Terms(monthly=0), now, SHANGHAI, currency="CNY")
    assert earnings.currency == ""  # nothing credited: no currency yet
    earnings.credit_month(Terms(monthly=10), now, SHANGHAI, currency="CNY")
    earnings.credit_event(Terms(per_kwh=1), _report("a", 1, 2), now, SHANGHAI, currency="EUR")
    assert (earnings.currency, earnings.total) == ("CNY", 12)
    assert Earnings.from_dict(earnings.to_dict()) == earnings
    assert Earnings.from_dict({**earnings.to_dict(), "currency": 3}).currency == ""


# --- what every user can read: the entities' states ---------------------------------------


async def test_no_state_carries_the_webhook_url_secret_or_token(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender
) -> None:
    """States are readable by every user and kept by the recorder. The webhook URL is
    not the credential, but whoever has it can keep the rate limit spent (it is counted
    before authentication) and starve the aggregator: the options step, for admins,
    shows it; no entity does."""
    secret = await new_credential(hass, entry)
    token = await new_credential(hass, entry, mode="bearer")
    dispatch = dispatch_of(entry)
    status, _, _ = await sender.bearer(price_event("a"), f"Bearer {token}")
    assert status == 200
    states = json.dumps([s.as_dict() for s in hass.states.async_all()], default=str)
    for value in (secret, token, dispatch.webhook_id):
        assert value not in states


async def test_earnings_sensors_are_registered_translated_and_primary(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    from homeassistant.helpers import entity_registry as er

    registry = er.async_get(hass)
    for key, name in (
        ("dispatch_earnings_month", "programme_earnings_this_month"),
        ("dispatch_earnings_total", "programme_earnings_total"),
    ):
        found = registry.async_get(f"sensor.garage_{name}")
        assert found is not None, key
        assert found.unique_id == f"{entry.entry_id}_{key}"
        assert found.translation_key == key
        assert found.entity_category is None  # what the owner came for, not a setting
        assert found.original_device_class == "monetary"
        for language in LANGUAGES:
            strings = json.loads((TRANSLATIONS / f"{language}.json").read_text())
            assert strings["entity"]["sensor"][key]["name"], (language, key)


async def test_a_stranger_cannot_spend_the_aggregators_rate_limit(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender
) -> None:
    """The clock stands still (no refill): 20 unsigned requests, then the aggregator's
    signed one. Counted before authentication, the stranger's 10 first emptied the
    bucket (burst 10) and the aggregator got 429."""
    secret = await new_credential(hass, entry)
    url = f"/api/webhook/{dispatch_of(entry).webhook_id}"
    body = json.dumps(price_event("x")).encode()
    statuses = [(await sender.client.post(url, data=body)).status for _ in range(20)]
    assert statuses == [401] * 20
    status, answer = await sender.signed(price_event("a"), secret)
    assert (status, answer["status"]) == (200, "accepted")


async def test_switching_back_to_a_secret_nobody_was_shown_is_refused_by_the_form(
    hass: HomeAssistant, entry: MockConfigEntry, sender: Sender
) -> None:
    """The mirror case: an owner who began with a bearer token switches to Standard
    Webhooks; the secret in force is the one made at set-up, which nobody has."""
    token = await new_credential(hass, entry, mode="bearer")
    shown = await open_dispatch(hass, entry)
    result = await hass.config_entries.options.async_configure(
        shown["flow_id"], form(dispatch_auth="standard_webhooks")
    )
    assert result["errors"] == {"new_credential": "secret_required"}
    assert entry.options["dispatch_auth"] == "bearer"
    _unlimited(entry)
    status, answer, _ = await sender.bearer(price_event("a"), f"Bearer {token}")
    assert (status, answer["status"]) == (200, "accepted")
    # Once a secret has been shown, switching back and forth needs no new one.
    secret = await new_credential(hass, entry)
    await new_credential(hass, entry, mode="bearer")
    result = await open_dispatch(hass, entry)
    done = await hass.config_entries.options.async_configure(
        result["flow_id"], form(dispatch_auth="standard_webhooks")
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert await _status(sender, secret, "b") == 200
