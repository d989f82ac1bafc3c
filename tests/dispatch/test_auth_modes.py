"""One authentication mode at a time: a bearer token or a Standard Webhooks signature."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from custom_components.evflex.dispatch.auth import (
    MODE_BEARER,
    MODE_STANDARD_WEBHOOKS,
    Unauthorized,
    authenticate,
    generate_secret,
    generate_token,
    sign,
)

BODY = b'{"id": "e1"}'
TOKEN = "tok-" + "x" * 40


def signed(secret: str, msg_id: str = "m1") -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, BODY.decode()),
    }


def test_bearer_mode_refuses_a_valid_signature_and_a_missing_token() -> None:
    secret = generate_secret()
    with pytest.raises(Unauthorized):
        authenticate(MODE_BEARER, BODY, signed(secret), [secret], TOKEN)
    with pytest.raises(Unauthorized):  # no token created yet: nothing verifies
        authenticate(MODE_BEARER, BODY, {"Authorization": "Bearer "}, [secret], None)
    with pytest.raises(Unauthorized):
        authenticate(MODE_BEARER, BODY, {"Authorization": "Bearer x" * 400}, [secret], TOKEN)


def test_standard_webhooks_mode_refuses_a_token() -> None:
    secret = generate_secret()
    with pytest.raises(Unauthorized):
        authenticate(
            MODE_STANDARD_WEBHOOKS, BODY, {"Authorization": f"Bearer {TOKEN}"}, [secret], TOKEN
        )
    assert authenticate(MODE_STANDARD_WEBHOOKS, BODY, signed(secret), [secret], TOKEN) == "m1"


def test_bearer_mode_accepts_the_token_in_any_header_case() -> None:
    for name in ("Authorization", "authorization", "AUTHORIZATION"):
        assert authenticate(MODE_BEARER, BODY, {name: f"Bearer {TOKEN}"}, [], TOKEN) == ""
        assert authenticate(MODE_BEARER, BODY, {name: f"bearer {TOKEN}"}, [], TOKEN) == ""
    # The sender's webhook-id (at most 128 characters) is the retry key.
    given_id = {"Authorization": f"Bearer {TOKEN}", "Webhook-Id": "r" * 300}
    assert authenticate(MODE_BEARER, BODY, given_id, [], TOKEN) == "r" * 128


def test_answers_in_bearer_mode_verify_with_the_token_bytes() -> None:
    token = generate_token()
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "a1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(token.encode(), "a1", now, BODY),
    }
    Webhook(token.encode()).verify(BODY, headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(generate_token().encode()).verify(BODY, headers)


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(["Authorization", "authorization", "webhook-id", "x", "webhook-signature"]),
        st.one_of(
            st.text(max_size=80),
            st.sampled_from(
                [f"Bearer {TOKEN}", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}"]
            ),
            st.builds(lambda a, b: f"{a}{TOKEN}{b}", st.text(max_size=8), st.text(max_size=8)),
        ),
        max_size=4,
    ),
    st.binary(max_size=64),
)
def test_no_header_but_the_exact_token_passes_in_bearer_mode(
    headers: dict[str, str], body: bytes
) -> None:
    # Whatever arrives, the only outcomes are Unauthorized or the exact token.
    try:
        authenticate(MODE_BEARER, body, headers, [], TOKEN)
    except Unauthorized:
        return
    value = {k.lower(): v for k, v in headers.items()}["authorization"]
    scheme, _, given_token = value.partition(" ")
    assert scheme.lower() == "bearer"
    assert given_token.strip() == TOKEN
