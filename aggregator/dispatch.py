"""The aggregator's side of EVFlex dispatch: sign, send, retry, read the home's answer.

A request is signed with Standard Webhooks (the `standardwebhooks` package: HMAC-SHA256
over `id.timestamp.body` with the home's `whsec_` secret). A 429 is retried after its
`Retry-After` (at most `max_wait_s`), a 5xx or a connection that fails after a back-off
that doubles from `backoff_s`; every retry keeps the message id (the home answers a
repeated id with its first answer and changes nothing) and is signed afresh, so its
timestamp stays inside the home's 5-minute tolerance. The home signs its answer the
same way: `Answer.signed` says whether that signature verified with the secret.

`report` and `forecast` are signed GETs of the same URL (an empty body): the
OpenADR-style report of the events delivered, and the day-ahead flexibility forecast.
Standard library HTTP only: the tools run anywhere Python does.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class DispatchError(Exception):
    """The home could not be reached (after the retries), or the input is unusable."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any  # the decoded JSON, or the text when it is not JSON
    headers: dict[str, str] = field(default_factory=dict)
    attempts: int = 1
    signed: bool = False  # the answer's signature verified with the secret


def signed_headers(
    secret: str, body: bytes, msg_id: str, at: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers for `body` (which must be UTF-8: JSON is)."""
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode("utf-8")),
    }


def _verify_answer(secret: str, text: str, headers: Mapping[str, str]) -> bool:
    wanted = ("webhook-id", "webhook-timestamp", "webhook-signature")
    plain = {k.lower(): v for k, v in headers.items()}
    if not all(plain.get(k) for k in wanted):
        return False
    try:
        Webhook(secret).verify(text, {k: plain[k] for k in wanted})
    except Exception:  # the package's own error or a malformed header: not signed
        return False
    return True


def _once(
    url: str, method: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(
        url, data=body if method == "POST" else None, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
    except urllib.error.HTTPError as err:
        text = err.read().decode("utf-8", "replace")
        return err.code, text, dict(err.headers)


def request(
    url: str,
    secret: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    extra_headers: Mapping[str, str] | None = None,
    retries: int = 4,
    backoff_s: float = 0.5,
    max_wait_s: float = 60.0,
    timeout_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Answer:
    """Send one signed request, retrying on 429, 5xx and failed connections."""
    if not url.startswith(("http://", "https://")):
        raise DispatchError(f"url: must start with http:// or https:// (got {url!r})")
    if not secret.startswith("whsec_"):
        raise DispatchError("secret: must be the home's whsec_ secret")
    msg_id = f"msg_{uuid.uuid4().hex}"
    attempt = 0
    while True:
        attempt += 1
        headers = {"content-type": "application/json", **(extra_headers or {})}
        headers |= signed_headers(secret, body, msg_id)
        try:
            status, text, got = _once(url, method, body, headers, timeout_s)
        except (urllib.error.URLError, OSError) as err:
            if attempt > retries:
                reason = getattr(err, "reason", err)
                raise DispatchError(f"{url}: cannot connect ({reason})") from err
            sleep(min(max_wait_s, backoff_s * 2 ** (attempt - 1)))
            continue
        if status in RETRY_STATUSES and attempt <= retries:
            wait = backoff_s * 2 ** (attempt - 1)
            if status == 429:
                with contextlib.suppress(ValueError):  # a date instead of seconds: back off
                    wait = max(wait, float(got.get("Retry-After", wait)))
            sleep(min(max_wait_s, wait))
            continue
        try:
            decoded: Any = json.loads(text)
        except ValueError:
            decoded = text
        return Answer(status, decoded, got, attempt, _verify_answer(secret, text, got))


def send(url: str, secret: str, event: Any, **options: Any) -> Answer:
    """POST an event (a JSON-able object, native or OpenADR 3) to the home."""
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return request(url, secret, body, **options)


def report(url: str, secret: str, **options: Any) -> Answer:
    """The OpenADR-style report (BASELINE, USAGE, DELTA_USAGE) of the events delivered."""
    return request(url, secret, method="GET", extra_headers={"x-evflex-view": "report"}, **options)


def forecast(url: str, secret: str, **options: Any) -> Answer:
    """The day-ahead flexibility forecast: hour by hour, kW the home could shed and absorb."""
    return request(
        url, secret, method="GET", extra_headers={"x-evflex-view": "forecast"}, **options
    )
