"""Signatures: the standardwebhooks package's and EVFlex's verify each other; rotation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from custom_components.evflex.dispatch.auth import (
    Keys,
    Unauthorized,
    generate_secret,
    sign,
    verify_bearer,
    verify_webhook,
)

BODY = b'{"id": "e1"}'


def headers(secret: str, at: datetime | None = None, msg_id: str = "msg_1") -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, BODY.decode()),
    }


def test_secret_shape() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert generate_secret() != secret


def test_package_signatures_verify_and_ours_verify_with_the_package() -> None:
    secret = generate_secret()
    assert verify_webhook(BODY, headers(secret), [secret]) == "msg_1"
    now = datetime.now(UTC)
    ours = {
        "webhook-id": "m2",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(secret, "m2", now, BODY),
    }
    Webhook(secret).verify(BODY, ours)


def test_rotation_with_overlap() -> None:
    old, new = generate_secret(), generate_secret()
    now = datetime.now(UTC)
    keys = Keys(old).rotated(new, now, timedelta(hours=24))
    assert keys.valid(now) == [new, old]
    assert verify_webhook(BODY, headers(old), keys.valid(now)) == "msg_1"
    assert verify_webhook(BODY, headers(new), keys.valid(now)) == "msg_1"
    later = keys.valid(now + timedelta(hours=25))
    assert later == [new]
    with pytest.raises(Unauthorized):
        verify_webhook(BODY, headers(old), later)
    # The sender signs with both during its own rotation: a space-separated list.
    both = headers(old)
    both["webhook-signature"] += " " + headers(new)["webhook-signature"]
    assert verify_webhook(BODY, both, [new]) == "msg_1"
    assert Keys.from_dict(keys.to_dict()) == keys


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: h.pop("webhook-id"),
        lambda h: h.pop("webhook-signature"),
        lambda h: h.update({"webhook-signature": "v1,AAAA"}),
        lambda h: h.update({"webhook-signature": "garbage"}),  # ValueError in the package
        lambda h: h.update({"webhook-signature": "v1,***"}),  # bad base64
        lambda h: h.update({"webhook-timestamp": "soon"}),
        lambda h: h.update({"webhook-timestamp": "1e400"}),
        lambda h: h.update({"webhook-id": "msg_2"}),  # signed for another id
        lambda h: h.update({"webhook-signature": "v1," + "A" * 5000}),
    ],
)
def test_bad_headers_are_unauthorized(mutate: object) -> None:
    secret = generate_secret()
    found = headers(secret)
    mutate(found)  # type: ignore[operator]
    with pytest.raises(Unauthorized):
        verify_webhook(BODY, found, [secret])


def test_timestamp_tolerance_and_non_utf8() -> None:
    secret = generate_secret()
    now = datetime.now(UTC)
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        with pytest.raises(Unauthorized):
            verify_webhook(BODY, headers(secret, now + skew), [secret])
    verify_webhook(BODY, headers(secret, now - timedelta(minutes=4)), [secret])
    with pytest.raises(Unauthorized):  # UnicodeDecodeError inside the package
        verify_webhook(b"\xff\xfe", headers(secret), [secret])


def test_bearer() -> None:
    verify_bearer("Bearer s3cret", "s3cret")
    for header in (None, "", "Basic s3cret", "Bearer s3cre", "Bearer"):
        with pytest.raises(Unauthorized):
            verify_bearer(header, "s3cret")
