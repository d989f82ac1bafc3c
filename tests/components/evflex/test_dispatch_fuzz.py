"""Fuzzing the dispatch webhook through HA's real HTTP stack (hypothesis, 5,000+ requests).

Every request generated here is invalid by construction: random bytes, random JSON,
valid events with one field given a wrong type or an out-of-range value, bodies over
64 KiB, bodies nested thousands deep, bodies that are not UTF-8, good bodies under a
bad signature. Properties, for each one: the handler answers (nothing escapes: HA's
webhook component would answer 200 to a handler that raised), with a 4xx and never a
5xx or a 200; the plan, the signals and the book are the same objects as before; no
`evflex_dispatch_received` is fired. One entry and one client serve every example;
the rate limit is lifted (it has its own test) so each request reaches the parser.

Hypothesis runs in a worker thread and hands each request to HA's loop
(`run_coroutine_threadsafe`): the loop keeps the one HA instance, the thread keeps
hypothesis's shrinking and reporting intact.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.evflex.dispatch.events import EventError, parse
from custom_components.evflex.dispatch.manager import MAX_BODY, Dispatch, RateLimit

type Client = Callable[[], Awaitable[TestClient[Any, Any]]]

NATIVE: dict[str, Any] = {
    "version": 1,
    "id": "feeder-7",
    "type": "ev_limit",
    "start": "2026-11-29T14:00:00Z",
    "end": "2026-11-29T16:00:00Z",
    "limit_kw": 5.0,
    "priority": 1,
    "programme": "feeder",
    "name": "Feeder 7",
    "modified": "2026-11-29T09:00:00Z",
    "randomize_start_s": 60,
}
OADR: dict[str, Any] = {
    "objectType": "EVENT",
    "operation": "POST",
    "object": {
        "id": "evt-1",
        "programID": "prog-1",
        "eventName": "cap",
        "priority": 2,
        "modificationDateTime": "2026-11-29T09:00:00Z",
        "payloadDescriptors": [{"payloadType": "IMPORT_CAPACITY_LIMIT", "units": "KW"}],
        "intervalPeriod": {"start": "2026-11-29T14:00:00Z", "duration": "PT1H"},
        "intervals": [
            {"id": 0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [6.0]}]},
            {"id": 1, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [4.0]}]},
        ],
    },
}
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every field's path in a valid event (dict keys and list positions)."""
    out: list[tuple[Any, ...]] = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*path, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = deepcopy(doc)
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


# A value of another JSON type than the field's own (None only where null is refused:
# OpenADR allows null for some optional fields, which is then no value, not a wrong one).
# In an OpenADR object a null field is an absent one: a wrong type only where it is required.
_OADR_REQUIRED = {"id", "programID", "intervals", "payloads", "type", "values", "start"}
_BY_TYPE: dict[type, st.SearchStrategy[Any]] = {
    str: st.text(max_size=20),
    int: st.integers(min_value=-(2**40), max_value=2**40),
    float: st.floats(allow_nan=False, allow_infinity=False),
    bool: st.booleans(),
    list: st.lists(st.integers(), max_size=3),
    dict: st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    type(None): st.none(),
}


def _wrong_type(current: Any, nullable: bool) -> st.SearchStrategy[Any]:
    own = {type(current)}
    if isinstance(current, int | float) and not isinstance(current, bool):
        own = {int, float}  # a number for a number is not a wrong type
    if not nullable:
        own.discard(type(None))
    kinds = [
        s for t, s in _BY_TYPE.items() if t not in own and (t is not type(None) or not nullable)
    ]
    return st.one_of(kinds)


@st.composite
def wrong_types(draw: st.DrawFn) -> bytes:
    doc = draw(st.sampled_from([NATIVE, OADR]))
    path = draw(st.sampled_from(_paths(doc)))
    current = _get(doc, path)
    nullable = (
        doc is OADR
        and len(path) > 1
        and isinstance(path[-1], str)
        and path[-1] not in _OADR_REQUIRED
    )
    value = draw(_wrong_type(current, nullable))
    return json.dumps(_set(doc, path, value)).encode()


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


# Out-of-range or malformed values of the right type, field by field.
_BAD_VALUES: dict[str, list[Any]] = {
    "version": [0, 2, -1],
    "id": ["", "x" * 129, "a\nb"],
    "type": ["cap", "EV_LIMIT", ""],
    "start": ["tomorrow", "2026-11-29T14:00:00", "2026-13-01T00:00:00Z", "2036-11-29T14:00:00Z"],
    "end": ["2026-11-29T13:00:00Z", "2026-11-29T09:00:00Z", "2026-12-29T09:00:00Z", "soon"],
    "limit_kw": [-1, 1e6, 1001],
    "priority": [-1, 10**7],
    "programme": ["", "p" * 201],
    "name": ["", "\x00"],
    "modified": ["yesterday", "2026-11-29"],
    "randomize_start_s": [-5, 7201],
    "operation": ["GET", "post", ""],
    "objectType": ["EVNT", "REPORT"],
    "programID": ["", "q" * 129],
    "eventName": ["", "n" * 201],
    "modificationDateTime": ["now", "2026-11-29T25:00:00Z"],
    "payloadDescriptors": [[]],
    "payloadType": [""],
    "units": ["GW", ""],
    "intervalPeriod": [{}, {"duration": "PT1H"}],
    "duration": ["1H", "PT", "P99D", "PT-1H", "PT0S"],
    "intervals": [[]],
    "payloads": [[]],
    "values": [[], [1, 2], ["x"], [-1], [1e9]],
}


@st.composite
def bad_values(draw: st.DrawFn) -> bytes:
    doc = draw(st.sampled_from([NATIVE, OADR]))
    choices = [p for p in _paths(doc) if isinstance(p[-1], str) and p[-1] in _BAD_VALUES]
    path = draw(st.sampled_from(choices))
    value = draw(st.sampled_from(_BAD_VALUES[path[-1]]))
    return json.dumps(_set(doc, path, value)).encode()


@st.composite
def unknown_or_missing(draw: st.DrawFn) -> bytes:
    doc = deepcopy(draw(st.sampled_from([NATIVE, OADR])))
    if draw(st.booleans()):  # a native event with a field it does not know
        doc = deepcopy(NATIVE)
        doc[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in NATIVE))] = 1
    else:  # a field EVFlex requires, removed
        required = {
            "id": NATIVE,
            "type": NATIVE,
            "start": NATIVE,
            "end": NATIVE,
            "limit_kw": NATIVE,
        }
        key = draw(st.sampled_from([*required, "programID", "intervals", "object-id"]))
        if key in required:
            doc = deepcopy(NATIVE)
            del doc[key]
        elif key == "object-id":
            doc = deepcopy(OADR)
            del doc["object"]["id"]
        else:
            doc = deepcopy(OADR)
            del doc["object"][key]
    return json.dumps(doc).encode()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def random_json(draw: st.DrawFn) -> bytes:
    # allow_nan: Python's json writes NaN/Infinity, which its reader accepts; EVFlex must not.
    return json.dumps(draw(_json)).encode()


@st.composite
def huge_or_deep(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["huge", "deep_list", "deep_dict", "deep_in_field", "long"]))
    depth = draw(st.integers(min_value=2_000, max_value=30_000))
    if kind == "huge":
        return b" " * draw(st.integers(min_value=MAX_BODY + 1, max_value=3 * MAX_BODY))
    if kind == "deep_list":
        return b"[" * depth + b"]" * depth
    if kind == "deep_dict":
        return b'{"a":' * depth + b"1" + b"}" * depth
    if kind == "deep_in_field":
        head = json.dumps(NATIVE)[:-1] + ', "name": '  # the last "name" is the one read
        return (head + "[" * depth + "]" * depth + "}").encode()
    # A long valid-looking series, over the limit in count or size.
    series = [
        {"start": "2026-11-29T14:00:00Z", "end": "2026-11-29T14:15:00Z", "value": 0.1}
    ] * draw(st.integers(min_value=801, max_value=1200))
    return json.dumps({**NATIVE, "type": "price", "series": series}).encode()


@st.composite
def not_utf8(draw: st.DrawFn) -> bytes:
    good = json.dumps(NATIVE).encode()
    at = draw(st.integers(min_value=0, max_value=len(good)))
    bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xf8\x88"]))
    return good[:at] + bad + good[at:]


REQUESTS = st.one_of(
    st.binary(max_size=300),
    random_json(),
    wrong_types(),
    bad_values(),
    unknown_or_missing(),
    huge_or_deep(),
    not_utf8(),
)


SIGNING = st.sampled_from(["good"] * 8 + ["bad", "none"])  # most reach the parser
BATCHES, PER_BATCH = 260, 20  # 5,200 requests, each batch sent at once


def _sign(secret: str, msg_id: str, at: int, body: bytes) -> str:
    """Standard Webhooks over raw bytes (the package's `sign` takes text only)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{at}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


async def test_fuzzed_requests_are_refused_and_change_nothing(
    hass: HomeAssistant, entry: MockConfigEntry, hass_client_no_auth: Client
) -> None:
    dispatch: Dispatch = entry.runtime_data.dispatch
    await dispatch.async_set_participation(True)
    dispatch.rate = RateLimit(10**9, 10**9)  # the limit has its own test
    home = entry.runtime_data.home
    client = await hass_client_no_auth()
    url = f"/api/webhook/{dispatch.webhook_id}"
    received = async_capture_events(hass, "evflex_dispatch_received")
    outcome, signals, book = home.planner.outcome, home.signals, dispatch.book.to_dict()
    assert outcome is not None
    secret = dispatch.keys.current
    loop = asyncio.get_running_loop()
    seen: dict[int, int] = {}
    counter = iter(range(10**9))

    async def post(body: bytes, signing: str) -> tuple[int, str]:
        n = next(counter)
        at = int(datetime.now(UTC).timestamp())
        headers = {"webhook-id": f"f{n}", "webhook-timestamp": str(at)}
        if signing == "good":
            headers["webhook-signature"] = _sign(secret, f"f{n}", at, body)
        elif signing == "bad":
            headers["webhook-signature"] = _sign("whsec_" + "A" * 44, f"f{n}", at, body)
        resp = await client.post(url, data=body, headers=headers)
        return resp.status, await resp.text()

    async def batch(requests: list[tuple[bytes, str]]) -> list[tuple[int, str]]:
        return list(await asyncio.gather(*(post(body, signing) for body, signing in requests)))

    @settings(
        max_examples=BATCHES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(st.tuples(REQUESTS, SIGNING), min_size=PER_BATCH, max_size=PER_BATCH))
    def check(requests: list[tuple[bytes, str]]) -> None:
        answers = asyncio.run_coroutine_threadsafe(batch(requests), loop).result(60)
        for (body, signing), (status, text) in zip(requests, answers, strict=True):
            seen[status] = seen.get(status, 0) + 1
            if status == 200:  # only a valid event may be accepted: is this one?
                try:
                    parse(json.loads(body), NOW)
                except (ValueError, EventError, RecursionError):
                    raise AssertionError(f"accepted an invalid request: {body[:200]!r}") from None
            assert 400 <= status < 500, (status, text, body[:200])
            assert isinstance(json.loads(text), dict)  # an answer, in JSON
            if signing != "good":
                assert status in (401, 413), (status, body[:200])

    await loop.run_in_executor(None, check)
    assert sum(seen.values()) >= 5_000, seen
    assert home.planner.outcome is outcome
    assert home.signals is signals
    assert dispatch.book.to_dict() == book
    assert not received
    assert {400, 401, 413, 422} <= set(seen), seen
