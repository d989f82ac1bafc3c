"""Who may send: Standard Webhooks signatures (default) or an OpenADR 3 bearer token.

Standard Webhooks: HMAC-SHA256 over `id.timestamp.body`, verified by the
`standardwebhooks` package (constant-time, 5 minutes of timestamp tolerance); during
a key rotation EVFlex accepts the new secret and, until the overlap ends, the old
one, and the header may carry several signatures. The package raises more than its
own error on hostile input (ValueError on a malformed element, UnicodeDecodeError on
a non-UTF-8 body): every failure is `Unauthorized`, which says nothing to the caller.

The owner chooses one mode (`authenticate`), never both: in `bearer` mode a signed
request without the token is refused, and in `standard_webhooks` mode a token is not
enough. A bearer token is replaced at once when the owner creates a new one (it is a
password sent with every request; there is no overlap). In bearer mode the answers are
still signed with Standard Webhooks headers, keyed by the token's UTF-8 bytes (the
aggregator checks them with `Webhook(token.encode())`): the token is the only secret
the two sides share, and a signed answer tells the aggregator it came from the home
even through a relay (HA Cloud) that ends TLS.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
TOLERANCE = timedelta(minutes=5)  # the package's own; kept here for the documentation
MAX_HEADER = 2048  # a signature list longer than this is not a rotation
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
MODE_STANDARD_WEBHOOKS = "standard_webhooks"
MODE_BEARER = "bearer"
MAX_ID = 128
MAX_OLDER = 8  # replaced secrets still in their overlap (each one costs a check)
_BEARER_HEADERS = ("authorization", "webhook-id")


class Unauthorized(Exception):
    """Not signed by a secret EVFlex holds (the reason stays in the security log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def generate_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Keys:
    """The secrets a request may be signed with now (the newest first).

    Each secret that was replaced is accepted until its own overlap ends: rotating
    twice within a day keeps the first one until 24 hours after it was replaced, as
    the owner was told (`older`: the ones before `previous`, with their ends)."""

    current: str
    previous: str | None = None
    previous_until: datetime | None = None
    older: tuple[tuple[str, datetime], ...] = ()

    def valid(self, now: datetime) -> list[str]:
        keys = [self.current]
        if self.previous and self.previous_until is not None and now < self.previous_until:
            keys.append(self.previous)
        keys.extend(key for key, until in self.older if now < until)
        return keys

    def rotated(self, new: str, now: datetime, overlap: timedelta) -> Keys:
        kept = list(self.older)
        if self.previous and self.previous_until is not None:
            kept.insert(0, (self.previous, self.previous_until))
        older = tuple((key, until) for key, until in kept if now < until)[:MAX_OLDER]
        return Keys(new, self.current, now + overlap, older)

    def to_dict(self) -> dict[str, Any]:
        until = self.previous_until.isoformat() if self.previous_until else None
        return {
            "current": self.current,
            "previous": self.previous,
            "previous_until": until,
            "older": [[key, end.isoformat()] for key, end in self.older],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Keys:
        until = data.get("previous_until")
        older = tuple(
            (str(item[0]), datetime.fromisoformat(str(item[1]))) for item in data.get("older") or []
        )
        return cls(
            str(data["current"]),
            data.get("previous"),
            datetime.fromisoformat(until) if until else None,
            older,
        )


def verify_webhook(body: bytes, headers: Mapping[str, str], keys: Sequence[str]) -> str:
    """The webhook id of a request signed with one of `keys`, or Unauthorized."""
    found = {name: headers.get(name) for name in HEADERS}
    missing = [name for name, value in found.items() if not value]
    if missing:
        raise Unauthorized(f"missing {missing[0]}")
    if any(len(str(v)) > MAX_HEADER for v in found.values()):
        raise Unauthorized("header too long")
    plain = {name: str(value) for name, value in found.items()}
    reason = "no secret"
    for key in keys:
        try:
            Webhook(key).verify(body, plain, json_parse=False)
        except Exception as err:  # the package's own error, ValueError, UnicodeDecodeError...
            reason = str(err) or type(err).__name__
            continue
        return plain["webhook-id"]
    raise Unauthorized(reason)


def verify_bearer(header: str | None, token: str) -> None:
    """`Authorization: Bearer <token>`, compared in constant time."""
    if not header or not token:
        raise Unauthorized("missing bearer token")
    if len(header) > MAX_HEADER:
        raise Unauthorized("header too long")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("not a bearer token")
    if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), token.encode()):
        raise Unauthorized("wrong bearer token")


def authenticate(
    mode: str,
    body: bytes,
    headers: Mapping[str, str],
    keys: Sequence[str],
    token: str | None,
) -> str:
    """The request's message id ("" when it has none) if it passes the owner's mode.

    Standard Webhooks: the signed `webhook-id`. Bearer: the `webhook-id` header when
    the sender gave one (the token vouches for the whole request, so a repeated id is
    a retry), else "" (no replay key: an OpenADR 3 event's `modificationDateTime`
    still makes a repeated one stale).
    """
    if mode == MODE_BEARER:
        found = {k.lower(): v for k, v in headers.items() if k.lower() in _BEARER_HEADERS}
        verify_bearer(found.get("authorization"), token or "")
        return str(found.get("webhook-id") or "")[:MAX_ID]
    return verify_webhook(body, headers, keys)


def sign(secret: str | bytes, msg_id: str, timestamp: datetime, body: bytes) -> str:
    """A `webhook-signature` value (the sender's side; made by the same package).

    `secret`: a `whsec_` secret, or raw key bytes (a bearer token's UTF-8 bytes)."""
    return Webhook(secret).sign(msg_id, timestamp, body.decode())
