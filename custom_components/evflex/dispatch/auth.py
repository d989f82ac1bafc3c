"""Who may send: Standard Webhooks signatures (default) or an OpenADR 3 bearer token.

Standard Webhooks: HMAC-SHA256 over `id.timestamp.body`, verified by the
`standardwebhooks` package (constant-time, 5 minutes of timestamp tolerance); during
a key rotation EVFlex accepts the new secret and, until the overlap ends, the old
one, and the header may carry several signatures. The package raises more than its
own error on hostile input (ValueError on a malformed element, UnicodeDecodeError on
a non-UTF-8 body): every failure is `Unauthorized`, which says nothing to the caller.
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
    """The secrets a request may be signed with now (the newest first)."""

    current: str
    previous: str | None = None
    previous_until: datetime | None = None

    def valid(self, now: datetime) -> list[str]:
        keys = [self.current]
        if self.previous and self.previous_until is not None and now < self.previous_until:
            keys.append(self.previous)
        return keys

    def rotated(self, new: str, now: datetime, overlap: timedelta) -> Keys:
        return Keys(new, self.current, now + overlap)

    def to_dict(self) -> dict[str, Any]:
        until = self.previous_until.isoformat() if self.previous_until else None
        return {"current": self.current, "previous": self.previous, "previous_until": until}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Keys:
        until = data.get("previous_until")
        return cls(
            str(data["current"]),
            data.get("previous"),
            datetime.fromisoformat(until) if until else None,
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
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("not a bearer token")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("wrong bearer token")


def sign(secret: str, msg_id: str, timestamp: datetime, body: bytes) -> str:
    """A `webhook-signature` value (the sender's side; made by the same package)."""
    return Webhook(secret).sign(msg_id, timestamp, body.decode())
