"""One home's dispatch: the book, the keys, participation, the logs, and the answers.

`async_handle(body, headers, source)` is the whole protocol (the webhook view only
moves bytes): size, authentication, rate limit, replay, participation, parsing, the
event, the answer. It never raises; every outcome is (HTTP status, JSON, headers).
Events change the plan only through `Home.signals` and a replan; what-if plans are
made with `Home.async_what_if` and never installed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ..const import (
    AUTH_BEARER,
    AUTH_STANDARD_WEBHOOKS,
    CONF_DISPATCH_AUTH,
    CONF_DISPATCH_DRIVER_FIRST,
    DOMAIN,
)
from .auth import Keys, Unauthorized, authenticate, generate_secret, generate_token
from .book import Book, Record, continued, plan_slots
from .events import MAX_EVENTS, Event, EventError, parse
from .policy import Context, answer, ev_caps, free_until, relaxation, shortfall
from .reports import Arrivals, quarter, spread
from .reward import Earnings, Terms

if TYPE_CHECKING:
    from ..home import Home

_LOGGER = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
RATE_BURST = 10  # requests at once
RATE_PER_S = 2.0  # sustained
REPLAY_KEPT = 1000
SECURITY_KEPT = 500
LOG_KEPT = 200
ROTATION_OVERLAP = timedelta(hours=24)
EVENT_RECEIVED = f"{DOMAIN}_dispatch_received"
EVENT_ENDED = f"{DOMAIN}_dispatch_ended"
STORAGE_VERSION = 1
SLOT_H = 0.25  # the plans' quarter hours
ARRIVAL_SOC_AGE = timedelta(minutes=5)

type Answer = tuple[int, dict[str, Any], dict[str, str]]


class RateLimit:
    """A token bucket on a monotonic clock."""

    def __init__(self, burst: int, per_s: float, clock: Any = time.monotonic) -> None:
        self.burst, self.per_s, self.clock = burst, per_s, clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> float:
        """0 if allowed, else the seconds to wait."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_s)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_s


class Dispatch:
    def __init__(self, hass: HomeAssistant, entry_id: str, home: Home) -> None:
        self.hass, self.entry_id, self.home = hass, entry_id, home
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.dispatch.{entry_id}"
        )
        self.book = Book(entry_id)
        self.keys = Keys(generate_secret())
        self.webhook_id = ""
        self.participating = False
        self.security: deque[dict[str, Any]] = deque(maxlen=SECURITY_KEPT)
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_KEPT)
        self.replays: OrderedDict[str, list[Any]] = OrderedDict()
        self.metered: dict[str, dict[str, float]] = {}  # event id -> slot start -> kWh
        self.rate = RateLimit(RATE_BURST, RATE_PER_S)
        self._lock = asyncio.Lock()
        self._last_energy: float | None = None
        self._last_at: datetime | None = None
        self.listeners: list[Any] = []
        self.new_secret: str | None = None  # generated this run: to show the owner once
        self.urls: dict[str, str] = {}
        self.token: str | None = None  # the OpenADR 3 bearer token, once the owner made one
        self.shown: dict[str, str] = {}  # mode -> when its secret/token was last shown
        self.earnings = Earnings()
        self.arrivals = Arrivals()  # past plug-ins: the day-ahead forecast's expected one
        self._forecast: tuple[tuple[datetime, int], dict[str, Any]] | None = None

    # --- persistence ------------------------------------------------------------------

    async def async_load(self, new_webhook_id: str) -> None:
        data = await self._store.async_load() or {}
        if data.get("keys"):
            self.keys = Keys.from_dict(data["keys"])
        else:
            self.new_secret = self.keys.current
        self.webhook_id = data.get("webhook_id") or new_webhook_id
        self.participating = bool(data.get("participating", False))
        self.book = Book.from_dict(self.entry_id, data.get("book") or {})
        self.security.extend(data.get("security") or [])
        self.log.extend(data.get("log") or [])
        self.replays.update(dict(data.get("replays") or []))
        self.metered = data.get("metered") or {}
        self._load_owner(data)
        self.arrivals = Arrivals.from_list(data.get("arrivals"))
        self.home.signals = self.book.signals(dt_util.utcnow(), self.home.driver.limits.max_kw)
        if self.home.signals:  # the first plan was made before the book was read
            self.home.planner.request_replan("dispatch restored")
        if self.new_secret:
            await self.async_save()

    def _data(self) -> dict[str, Any]:
        return {
            "keys": self.keys.to_dict(),
            "webhook_id": self.webhook_id,
            "participating": self.participating,
            "book": self.book.to_dict(),
            "security": list(self.security),
            "log": list(self.log),
            "replays": list(self.replays.items())[-REPLAY_KEPT:],
            "metered": self.metered,
            **self._owner_data(),
            "arrivals": self.arrivals.to_list(),
        }

    def save_soon(self) -> None:
        self._store.async_delay_save(self._data, 5)

    async def async_save(self) -> None:
        await self._store.async_save(self._data())

    def _changed(self) -> None:
        self.save_soon()
        for listener in self.listeners:
            listener()

    # --- the owner's side -------------------------------------------------------------

    async def async_set_participation(self, on: bool) -> None:
        self.participating = on
        if not on and self.book.records:  # off: nothing of a request stays
            now = dt_util.utcnow()
            for record in list(self.book.records.values()):
                self._ended(record, now, "participation_off")
            self.book = Book(self.entry_id)
            await self._install("participation off")
        self._credit_month(dt_util.utcnow())
        self._changed()

    def rotate(self) -> str:
        """A new secret; the old one is still accepted for the overlap."""
        secret = generate_secret()
        self.keys = self.keys.rotated(secret, dt_util.utcnow(), ROTATION_OVERLAP)
        self._changed()
        return secret

    # --- each request -----------------------------------------------------------------

    async def async_handle(
        self, body: bytes, headers: Mapping[str, str], source: str, method: str = "POST"
    ) -> Answer:
        now = dt_util.utcnow()
        msg_id = str(headers.get("webhook-id") or "")[:128]
        try:
            status, payload, extra = await self._handle(body, headers, now, method)
        except Exception:  # nothing escapes the handler; the plan is untouched
            _LOGGER.exception("A dispatch request could not be handled")
            status, payload, extra = 400, {"error": "body: could not be handled"}, {}
        outcome = payload.get("status") or payload.get("error") or ""
        self.security.append(
            {
                "time": now.isoformat(),
                "source": source[:64],
                "id": msg_id,
                "http": status,
                "outcome": str(outcome)[:120],
            }
        )
        self.save_soon()
        return status, payload, extra

    async def _handle(
        self, body: bytes, headers: Mapping[str, str], now: datetime, method: str
    ) -> Answer:
        if len(body) > MAX_BODY:
            return 413, {"error": f"body: must be at most {MAX_BODY} bytes"}, {}
        try:
            msg_id = authenticate(self.auth_mode, body, headers, self.keys.valid(now), self.token)
        except Unauthorized as err:
            _LOGGER.debug("Dispatch request refused: %s", err.reason)
            return 401, {"error": "unauthorized"}, {}
        wait = self.rate.take()  # after the check: a stranger cannot spend the sender's
        if wait > 0:
            retry = str(max(1, round(wait + 0.5)))
            return 429, {"error": "rate limited"}, {"Retry-After": retry}
        if method == "GET":
            view = headers.get("x-evflex-view", "report")
            if view == "forecast":
                return 200, await self.async_forecast(now), {}
            return 200, self.report(view, now), {}
        async with self._lock:
            if msg_id and msg_id in self.replays:
                status, payload = self.replays[msg_id]
                return int(status), dict(payload), {"X-EVFlex-Replay": "1"}
            status, payload = await self._request(body, now)
            if not msg_id:  # bearer mode without a webhook-id: nothing to replay
                return status, payload, {}
            self.replays[msg_id] = [status, payload]
            while len(self.replays) > REPLAY_KEPT:
                self.replays.popitem(last=False)
        return status, payload, {}

    async def _request(self, body: bytes, now: datetime) -> tuple[int, dict[str, Any]]:
        if not self.participating:
            return 403, {"status": "declined", "reason": "participation_off"}
        try:
            data = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            return 400, {"error": "body: must be UTF-8"}
        except (ValueError, RecursionError):
            return 400, {"error": "body: must be JSON"}
        try:
            event = parse(data, now)
        except EventError as err:
            return err.status, {"error": str(err)}
        except RecursionError:
            return 400, {"error": "body: nested too deeply"}
        held = sum(1 for r in self.book.records.values() if r.event.end > now)
        if not event.cancel and event.id not in self.book.records and held >= MAX_EVENTS:
            return 422, {"error": f"id: at most {MAX_EVENTS} events may be held at once"}
        return 200, await self._event(event, now)

    # --- events -----------------------------------------------------------------------

    async def _event(self, event: Event, now: datetime) -> dict[str, Any]:
        self.expire(now)
        outcome = self.book.classify(event)
        if outcome in ("stale", "unknown"):
            if outcome == "unknown":  # a cancel before its event: a late copy is stale
                self.book.apply(Record(event))
                self._changed()
            return {"event_id": event.id, "status": outcome}
        if event.cancel:
            record = self.book.records[event.id]
            self.book.apply(Record(event))
            self._ended(record, now, "cancelled")
            await self._install("dispatch cancelled")
            return {"event_id": event.id, "status": "cancelled"}
        max_kw = self.home.driver.limits.max_kw
        others = self.book.without(event.id)
        baseline = await self.home.async_what_if(others.signals(now, max_kw))
        ctx = self._context(now)
        freed = free_until(baseline, ctx) if ctx.driver_first else None
        record = Record(event, plan_slots(baseline), received=now, free_until=freed)
        planned = await self.home.async_what_if(others.with_record(record).signals(now, max_kw))
        relax = 0.0
        missing = shortfall(planned) - shortfall(baseline)
        if ctx.driver_first and missing > 0.05:
            relax = relaxation(ev_caps(event, planned, max_kw), missing, SLOT_H, ctx)
            record = replace(record, relax_kw=relax)
            planned = await self.home.async_what_if(others.with_record(record).signals(now, max_kw))
        result = answer(
            event,
            baseline,
            planned,
            record.baseline,
            ctx,
            relax_kw=relax,
            freed=freed,
            start=now,
        )
        result["operation"] = outcome
        held = self.book.records.get(event.id)  # an update: its past is kept for the report
        self.book.apply(continued(replace(record, answer=result), held))
        self.metered.setdefault(event.id, {})
        await self._install(f"dispatch {event.id}")
        self.hass.bus.async_fire(
            EVENT_RECEIVED,
            {
                "config_entry_id": self.entry_id,
                "event_id": event.id,
                "status": result["status"],
                "operation": outcome,
                "start": event.start.isoformat(),
                "end": event.end.isoformat(),
            },
        )
        self._changed()
        return result

    def _context(self, now: datetime) -> Context:
        home = self.home
        session = home.session
        settings = session.settings
        limits = home.driver.limits
        boost_until = session.boost_until if session.boost_active(now) else None
        if session.boost_active(now) and boost_until is None:  # a kWh boost: until it is in
            left = session.boost_kwh_left or 0.0
            boost_until = now + timedelta(hours=left / max(limits.max_kw, 0.1))
        config = home.config
        return Context(
            plugged=session.plugged,
            min_kw=limits.min_kw,
            max_kw=limits.max_kw,
            efficiency=home.session_config().efficiency,
            soc_pct=session.soc_pct(now),
            min_soc_pct=settings.min_soc,
            boost_until=boost_until,
            driver_first=bool(config.get(CONF_DISPATCH_DRIVER_FIRST, True)),
            charger_ok=self._charger_ok(),
        )

    def _charger_ok(self) -> bool:
        """The charger answered the last cycle (the coordinator's last update)."""
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        coordinator = getattr(entry, "runtime_data", None)
        return bool(getattr(coordinator, "last_update_success", True))

    async def _install(self, reason: str) -> None:
        now = dt_util.utcnow()
        self.home.signals = self.book.signals(now, self.home.driver.limits.max_kw)
        await self.home.planner.async_replan(reason)

    def expire(self, now: datetime) -> bool:
        ended = self.book.expire(now)
        for record in ended:
            self._ended(record, now, "ended")
        return bool(ended)

    async def async_tick(self) -> None:
        """Each coordinator cycle: meter the active events, end the expired ones."""
        now = dt_util.utcnow()
        session = self.home.session
        if session.plugged and session.plugged_at is not None:
            # The SoC at plug-in, if a sensor told it (not long after: not a charged one).
            known = (
                session.soc_source(now) != "assumed" and now - session.plugged_at < ARRIVAL_SOC_AGE
            )
            if self.arrivals.add(session.plugged_at, session.soc_pct(now) if known else None):
                self.save_soon()
        energy = self.home.session.energy_kwh
        since = self._last_at
        if self._last_energy is not None and since is not None and energy > self._last_energy:
            # Drawn since the last reading: shared out over the quarter hours it spans.
            for slot, moment, kwh in spread(energy - self._last_energy, since, now):
                for record in self.book.active(moment):
                    bucket = self.metered.setdefault(record.event.id, {})
                    bucket[slot] = bucket.get(slot, 0.0) + kwh
        self._last_energy, self._last_at = energy, now
        self._credit_month(now)
        if self.expire(now):
            await self._install("dispatch ended")
            self._changed()

    def _ended(self, record: Record, now: datetime, why: str) -> None:
        from .reports import measure

        begin = self.book.start_of(record.event)
        report = measure(record, self.metered.pop(record.event.id, {}), now, why, begin)
        self.log.append(report)
        self._earn(report, now)
        self.hass.bus.async_fire(EVENT_ENDED, {"config_entry_id": self.entry_id, **_brief(report)})

    # --- the owner's credentials and reward (options flow "dispatch") ----------------

    @property
    def auth_mode(self) -> str:
        mode = self.home.config.get(CONF_DISPATCH_AUTH)
        return AUTH_BEARER if mode == AUTH_BEARER else AUTH_STANDARD_WEBHOOKS

    def answer_key(self) -> str | bytes | None:
        """What answers are signed with: the secret, or in bearer mode the token's bytes."""
        if self.auth_mode == AUTH_BEARER:
            return self.token.encode() if self.token else None
        return self.keys.current

    async def async_new_credential(self, mode: str) -> str:
        """A new secret (Standard Webhooks) or token (bearer), to show the owner once.

        A secret that was shown before stays valid for the overlap; one nobody has
        seen (the first, generated at set-up) is replaced outright. A token is
        replaced at once. Saved now: the value shown must be the one that verifies.
        """
        now = dt_util.utcnow()
        if mode == AUTH_BEARER:
            value = self.token = generate_token()
        elif AUTH_STANDARD_WEBHOOKS in self.shown:
            value = self.rotate()
        else:
            value = generate_secret()
            self.keys = Keys(value)
        self.shown[mode] = now.isoformat()
        await self.async_save()
        self._changed()
        return value

    def _load_owner(self, data: Mapping[str, Any]) -> None:
        token = data.get("token")
        self.token = token if isinstance(token, str) and token else None
        shown = data.get("shown")
        self.shown = {str(k): str(v) for k, v in shown.items()} if isinstance(shown, dict) else {}
        if "shown" not in data and data.get("keys"):
            # Kept by a version that showed the secret in a notification at set-up: it
            # was shown, and an aggregator may hold it (a new one keeps the overlap).
            self.shown[AUTH_STANDARD_WEBHOOKS] = ""
        self.earnings = Earnings.from_dict(data.get("earnings"))

    def _owner_data(self) -> dict[str, Any]:
        return {"token": self.token, "shown": self.shown, "earnings": self.earnings.to_dict()}

    def terms(self) -> Terms:
        return Terms.from_config(self.home.config)

    def _credit_month(self, now: datetime) -> None:
        if self.participating and self.earnings.credit_month(
            self.terms(), now, dt_util.get_default_time_zone(), self.hass.config.currency
        ):
            self._changed()

    def _earn(self, report: dict[str, Any], now: datetime) -> None:
        earned = self.earnings.credit_event(
            self.terms(), report, now, dt_util.get_default_time_zone(), self.hass.config.currency
        )
        report["reward"] = round(earned, 6)

    def diagnostics(self) -> dict[str, Any]:
        """For the diagnostics download: no secret, no token, no webhook id."""
        return {
            "auth": self.auth_mode,
            "participating": self.participating,
            "shown": dict(self.shown),
            "has_token": self.token is not None,
            "previous_key_until": (
                self.keys.previous_until.isoformat() if self.keys.previous_until else None
            ),
            "events_in_book": len(self.book.records),
            "log_kept": len(self.log),
            "earnings": self.earnings.to_dict(),
        }

    # --- what the aggregator and the owner read ---------------------------------------

    def report(self, view: str, now: datetime) -> dict[str, Any]:
        from .reports import openadr_report

        return openadr_report(self.entry_id, list(self.log))

    async def async_forecast(self, now: datetime) -> dict[str, Any]:
        """The day-ahead forecast, kept until an input changes (the planner is asked for
        a new plan) or the quarter hour ends: asking again does not plan again."""
        from .reports import day_ahead

        key = (quarter(now), self.home.planner.generation)
        if self._forecast is None or self._forecast[0] != key:
            self._forecast = (key, await day_ahead(self.home, self.arrivals, now))
        return dict(self._forecast[1])

    def events_this_month(self, now: datetime) -> int:
        local = dt_util.as_local(now)
        month = (local.year, local.month)
        count = 0
        for item in self.log:
            moment = dt_util.as_local(datetime.fromisoformat(item["start"]))
            count += (moment.year, moment.month) == month
        for record in self.book.records.values():
            moment = dt_util.as_local(record.event.start)
            count += (moment.year, moment.month) == month
        return count


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("event_id", "why", "start", "end", "delivered_kw", "delivered_kwh", "metered_kwh")
    return {k: report.get(k) for k in keys}
