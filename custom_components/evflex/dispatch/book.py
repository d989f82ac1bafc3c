"""The book of dispatch events: which hold now, and the plan-v1 signals they make.

- An event is kept by id; a request for the same id replaces it only if its
  `modified` time is newer (an older or equal one is `stale` and changes nothing); a
  cancel removes it (and is remembered, so a late copy of the original does not
  bring it back); so is a cancel of an id not (yet) known: notifications can arrive
  out of order, and the event it cancels must not be created by a late copy.
- An event ends at the end of its last part and is then `expire`d (to the reports).
- Overlapping events: each becomes signals of its own and the planner takes the
  strictest limit per slot (the stricter cap holds); price events are ordered by
  priority (OpenADR: the lower number wins), the newer first among equals.
- A `reduction` is `value` kW below the event's baseline (the plan EVFlex would have
  run without it, frozen when the event was accepted): an `ev_limit` per baseline
  slot. SIMPLE level L caps the EV at (3 - L) / 3 of the charger's maximum.
- `randomizeStart`: each home starts an event a fixed, home-specific fraction of the
  allowed delay late (a hash of the home's key and the event id), so a fleet does
  not move in lock-step; EVFlex's own random start delay then spreads the rebound
  when charging resumes.
- `relax_kw` (set by the policy) raises the event's caps where the departure needs
  it: the home keeps what it answered, no more and no less.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from .events import Event, Part

CANCELLED_KEPT = timedelta(days=8)


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    ev_kw: float


@dataclass(frozen=True, slots=True)
class Record:
    event: Event
    baseline: tuple[Slot, ...] = ()
    relax_kw: float = 0.0
    answer: dict[str, Any] = field(default_factory=dict)
    received: datetime | None = None
    free_until: datetime | None = None  # below the minimum SoC: the event holds from here

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event.to_dict(),
            "baseline": [[s.start.isoformat(), s.end.isoformat(), s.ev_kw] for s in self.baseline],
            "relax_kw": self.relax_kw,
            "answer": self.answer,
            "received": self.received.isoformat() if self.received else None,
            "free_until": self.free_until.isoformat() if self.free_until else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        return cls(
            event=Event.from_dict(data["event"]),
            baseline=tuple(
                Slot(datetime.fromisoformat(a), datetime.fromisoformat(b), float(v))
                for a, b, v in data.get("baseline") or []
            ),
            relax_kw=float(data.get("relax_kw", 0.0)),
            answer=dict(data.get("answer") or {}),
            received=_time(data.get("received")),
            free_until=_time(data.get("free_until")),
        )


def continued(record: Record, held: Record | None) -> Record:
    """An update of a held event: the quarter hours before the new baseline keep the
    held one's baseline and expected kW, and the event counts from when it was first
    received, so its report covers the whole event, not only what followed the update."""
    if held is None:
        return record
    cut = min((s.start for s in record.baseline), default=None)
    if cut is None:
        return record
    before = tuple(s for s in held.baseline if s.start < cut)
    rows = [
        r
        for r in held.answer.get("expected_ev_kw") or []
        if datetime.fromisoformat(r["start"]) < cut
    ]
    answer = {
        **record.answer,
        "expected_ev_kw": rows + list(record.answer.get("expected_ev_kw") or []),
    }
    return replace(
        record,
        baseline=before + record.baseline,
        answer=answer,
        received=held.received or record.received,
    )


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def plan_slots(plan: dict[str, Any] | None) -> tuple[Slot, ...]:
    """A plan-v1 response's EV power per slot (nothing without a plan: no charging)."""
    if not plan:
        return ()
    return tuple(
        Slot(
            datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]), float(s["ev_kw"])
        )
        for s in plan.get("slots") or []
    )


def fraction(key: str, event_id: str) -> float:
    """A home-specific, stable number in [0, 1) for this event."""
    digest = hashlib.sha256(f"{key}\x00{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Book:
    def __init__(self, key: str) -> None:
        self.key = key  # the home's spread key
        self.records: dict[str, Record] = {}
        self.cancelled: dict[str, datetime] = {}  # id -> modified of the cancel

    # --- changes ----------------------------------------------------------------------

    def classify(self, event: Event) -> str:
        """What `apply` would do: created | updated | cancelled | stale | unknown."""
        old = self.records.get(event.id)
        gone = self.cancelled.get(event.id)
        if event.cancel:
            if old is None:
                return "unknown"
            return "cancelled" if event.modified >= old.event.modified else "stale"
        if gone is not None and event.modified <= gone:
            return "stale"
        if old is None:
            return "created"
        return "updated" if event.modified > old.event.modified else "stale"

    def apply(self, record: Record) -> str:
        outcome = self.classify(record.event)
        event = record.event
        if outcome == "cancelled":
            del self.records[event.id]
            self.cancelled[event.id] = event.modified
        elif outcome == "unknown":  # cancelled before it arrived (out of order)
            self.cancelled[event.id] = max(
                event.modified, self.cancelled.get(event.id, event.modified)
            )
        elif outcome in ("created", "updated"):
            self.records[event.id] = record
            self.cancelled.pop(event.id, None)
        return outcome

    def without(self, event_id: str) -> Book:
        other = Book(self.key)
        other.records = {k: v for k, v in self.records.items() if k != event_id}
        return other

    def with_record(self, record: Record) -> Book:
        other = self.without(record.event.id)
        if not record.event.cancel:
            other.records[record.event.id] = record
        return other

    def expire(self, now: datetime) -> list[Record]:
        """Remove and return the events that have ended."""
        ended = [r for r in self.records.values() if r.event.end <= now]
        for record in ended:
            del self.records[record.event.id]
        horizon = now - CANCELLED_KEPT
        self.cancelled = {k: v for k, v in self.cancelled.items() if v > horizon}
        return ended

    def active(self, now: datetime) -> list[Record]:
        """The events in force now (started, not ended), by priority."""
        return sorted(
            (r for r in self.records.values() if self.start_of(r.event) <= now < r.event.end),
            key=lambda r: (r.event.priority, r.event.start),
        )

    # --- signals ----------------------------------------------------------------------

    def start_of(self, event: Event) -> datetime:
        return event.start + self.delay(event)

    def delay(self, event: Event) -> timedelta:
        return timedelta(seconds=round(fraction(self.key, event.id) * event.randomize_s))

    def signals(self, now: datetime, max_kw: float) -> list[dict[str, Any]]:
        """plan-v1 signals of every event not yet ended (prices by priority, last wins)."""
        out: list[dict[str, Any]] = []
        prices: list[tuple[int, datetime, dict[str, Any]]] = []
        for record in self.records.values():
            event = record.event
            if event.end <= now:
                continue
            delay = self.delay(event)
            for i, part in enumerate(event.parts):
                start = part.start + delay if part.start == event.start else part.start
                if record.free_until is not None:
                    start = max(start, record.free_until)
                if start >= part.end:
                    continue
                moved = Part(part.kind, start, part.end, part.value)
                made = _signals(f"{event.id}#{i}", moved, record, max_kw)
                if part.kind == "price":
                    prices += [(event.priority, event.modified, s) for s in made]
                else:
                    out += made
        prices.sort(key=lambda p: (-p[0], p[1]))  # the highest priority is applied last
        return out + [p[2] for p in prices]

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": [r.to_dict() for r in self.records.values()],
            "cancelled": {k: v.isoformat() for k, v in self.cancelled.items()},
        }

    @classmethod
    def from_dict(cls, key: str, data: dict[str, Any]) -> Book:
        book = cls(key)
        for raw in data.get("records") or []:
            record = Record.from_dict(raw)
            book.records[record.event.id] = record
        book.cancelled = {
            k: datetime.fromisoformat(v) for k, v in (data.get("cancelled") or {}).items()
        }
        return book


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _signals(sid: str, part: Part, record: Record, max_kw: float) -> list[dict[str, Any]]:
    relax = record.relax_kw
    window = {"start": _iso(part.start), "end": _iso(part.end)}
    if part.kind in ("import_limit", "ev_limit"):
        return [{"id": sid, "type": part.kind, **window, "limit_kw": part.value + relax}]
    if part.kind == "simple":
        if part.value <= 0:
            return []
        limit = max_kw * (3 - part.value) / 3
        return [{"id": sid, "type": "ev_limit", **window, "limit_kw": round(limit + relax, 4)}]
    if part.kind == "price":
        series = [{**window, "value": part.value}]
        return [{"id": sid, "type": "price", **window, "series": series}]
    if part.kind == "reduction":
        return _reduction(sid, part, record.baseline, relax)
    return []  # export_limit: an EV only draws; nothing of the car's plan changes


def _reduction(
    sid: str, part: Part, baseline: tuple[Slot, ...], relax: float
) -> list[dict[str, Any]]:
    """`value` kW below the baseline, slot by slot (no baseline: the car was not to charge)."""
    out: list[dict[str, Any]] = []
    covered = part.start
    for k, slot in enumerate(baseline):
        start, end = max(slot.start, part.start), min(slot.end, part.end)
        if start >= end:
            continue
        if start > covered:  # a gap in the baseline: nothing was to be drawn there
            out.append(_limit(f"{sid}.gap{k}", covered, start, relax))
        out.append(_limit(f"{sid}.{k}", start, end, max(0.0, slot.ev_kw - part.value) + relax))
        covered = end
    if covered < part.end:
        out.append(_limit(f"{sid}.tail", covered, part.end, relax))
    return out


def _limit(sid: str, start: datetime, end: datetime, kw: float) -> dict[str, Any]:
    return {
        "id": sid,
        "type": "ev_limit",
        "start": _iso(start),
        "end": _iso(end),
        "limit_kw": round(kw, 4),
    }
