"""Measurement and verification, and the day-ahead flexibility forecast.

- `measure`: when an event ends (or is cancelled), what it delivered against its
  baseline (the plan EVFlex would have run without it, frozen when it was accepted):
  the planned delivery (baseline minus the kept plan's EV energy in the window) and
  the metered one (baseline minus the energy the charger really drew in the window,
  per quarter hour).
- `openadr_report`: the event log as OpenADR 3-style report payloads, one interval per
  quarter hour: BASELINE, USAGE (metered) and DELTA_USAGE (baseline - usage), kWh.
- `Arrivals`: the home's past plug-ins, and from them when (and with what SoC) the
  car is expected to plug in next.
- `forecast`: hour by hour for the next 24 h, the kW the home could shed (what the
  plan draws) and absorb (the charger's room above the plan) while the car is
  plugged in: the home's own plan when it is, else a plan made ahead from the
  expected arrival (plan-v1 `vehicle.arrival`), with the assumption stated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from ..schedule import wall_clock_instant
from .book import Record

if TYPE_CHECKING:
    from ..home import Home

SLOT_H = 0.25
QUARTER = timedelta(minutes=15)


def spread(kwh: float, since: datetime, until: datetime) -> list[tuple[str, datetime, float]]:
    """`kwh` drawn from `since` to `until`, shared out in proportion to time over the
    quarter hours it spans: (the slot's start in UTC ISO form, the middle of the share,
    kWh)."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if until <= since:
        return [(quarter(until).isoformat(), until, kwh)]
    out: list[tuple[str, datetime, float]] = []
    cursor, span = since, until - since
    while cursor < until:
        start = quarter(cursor)
        end = min(until, start + QUARTER)
        out.append((start.isoformat(), cursor + (end - cursor) / 2, kwh * ((end - cursor) / span)))
        cursor = end
    return out


def quarter(moment: datetime) -> datetime:
    """The quarter hour holding `moment`."""
    moment = moment.replace(second=0, microsecond=0)
    return moment - timedelta(minutes=moment.minute % 15)


def measure(
    record: Record,
    metered: dict[str, float],
    now: datetime,
    why: str,
    begin: datetime | None = None,
) -> dict[str, Any]:
    """What the event delivered (see the module docstring), over the part of its window
    the home was bound by it: from `begin` (its randomized start) or when it was
    received, whichever is later, until it ended or was cancelled (`now`). A quarter
    hour only partly inside counts that part of its baseline and plan."""
    event = record.event
    end = min(event.end, now)
    start_at = max(begin or event.start, event.start, record.received or event.start)
    kept = {r["start"]: float(r["expected_kw"]) for r in record.answer.get("expected_ev_kw", [])}
    rows: list[dict[str, Any]] = []
    hours = 0.0
    for slot in record.baseline:
        a, b = max(slot.start, start_at), min(slot.end, end)
        if a >= b:
            continue
        span = (b - a) / timedelta(hours=1)
        hours += span
        used = metered.get(slot.start.astimezone(UTC).isoformat(), 0.0)  # metered in UTC
        planned = kept.get(slot.start.isoformat(), slot.ev_kw)
        rows.append(
            {
                "start": slot.start.isoformat(),
                "baseline_kwh": round(slot.ev_kw * span, 4),
                "planned_kwh": round(planned * span, 4),
                "usage_kwh": round(used, 4),
            }
        )
    baseline_kwh = sum(r["baseline_kwh"] for r in rows)
    usage_kwh = sum(r["usage_kwh"] for r in rows)
    planned_kwh = sum(r["planned_kwh"] for r in rows)
    hours = max(hours, 1 / 60)
    delivered_kwh = max(0.0, baseline_kwh - usage_kwh)
    return {
        "event_id": event.id,
        "programme": event.programme,
        "capacity": event.capacity,
        "why": why,
        "start": event.start.isoformat(),
        "end": end.isoformat(),
        "status": record.answer.get("status"),
        "baseline_kwh": round(baseline_kwh, 4),
        "planned_kwh": round(planned_kwh, 4),
        "metered_kwh": round(usage_kwh, 4),
        "planned_delivered_kwh": round(max(0.0, baseline_kwh - planned_kwh), 4),
        "delivered_kwh": round(delivered_kwh, 4),
        "delivered_kw": round(delivered_kwh / hours, 4),
        "intervals": rows,
    }


def openadr_report(entry_id: str, log: list[dict[str, Any]]) -> dict[str, Any]:
    reports = []
    for item in log:
        intervals = [
            {
                "id": i,
                "intervalPeriod": {"start": r["start"], "duration": "PT15M"},
                "payloads": [
                    {"type": "BASELINE", "values": [r["baseline_kwh"]]},
                    {"type": "USAGE", "values": [r["usage_kwh"]]},
                    {
                        "type": "DELTA_USAGE",
                        "values": [round(r["baseline_kwh"] - r["usage_kwh"], 4)],
                    },
                ],
            }
            for i, r in enumerate(item.get("intervals") or [])
        ]
        reports.append(
            {
                "objectType": "REPORT",
                "programID": item.get("programme"),
                "eventID": item["event_id"],
                "clientName": entry_id,
                "reportName": f"{item['event_id']} delivery",
                "payloadDescriptors": [
                    {"payloadType": t, "units": "KWH"} for t in ("BASELINE", "USAGE", "DELTA_USAGE")
                ],
                "resources": [{"resourceName": "ev", "intervals": intervals}],
                "summary": {
                    k: item.get(k)
                    for k in (
                        "why",
                        "status",
                        "baseline_kwh",
                        "metered_kwh",
                        "delivered_kwh",
                        "delivered_kw",
                    )
                },
            }
        )
    return {"reports": reports}


# --- the expected plug-in -------------------------------------------------------------

DEFAULT_ARRIVAL = time(18, 0)  # no history yet: the car is expected at 18:00 local
DAY_STARTS_H = 4  # a plug-in before 04:00 belongs to the evening before
ARRIVALS_KEPT = 64
ARRIVALS_USED = 8  # the median of at most the last 8 sessions ...
ARRIVALS_NEEDED = 4  # ... and of at least 4
FULL_PCT = 99.9
HOUR = timedelta(hours=1)
FORECAST_SPAN = 24 * HOUR


@dataclass(frozen=True, slots=True)
class Arrival:
    """When the car is expected to plug in next, and with what SoC, and why."""

    at: datetime  # UTC
    soc_pct: float
    basis: str  # weekday | recent | default
    sessions: int  # the number of past plug-ins it is the median of
    soc_basis: str  # sessions | assumed (the configured arrival SoC)


def _home_day(at: datetime, zone: tzinfo) -> tuple[date, int]:
    """The local day a plug-in belongs to (days start at 04:00) and its minute in it."""
    wall = at.astimezone(zone).replace(tzinfo=None) - timedelta(hours=DAY_STARTS_H)
    return wall.date(), wall.hour * 60 + wall.minute


def _instant(day: date, minute: int, zone: tzinfo) -> datetime:
    total = DAY_STARTS_H * 60 + minute
    hour, rest = divmod(total % 1440, 60)
    return wall_clock_instant(day + timedelta(days=total // 1440), hour, rest, zone)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class Arrivals:
    """The home's past plug-ins (the instant, and the SoC when a sensor knew it), oldest
    first, and from them the next expected one (`expected`):

    - per weekday (of the day the plug-in belongs to: days start at 04:00, so a
      00:30 plug-in is the evening before's), the median time of the last 8 plug-ins
      on that weekday, if there are at least 4; else the median of the last 8
      plug-ins of any day, if there are at least 4; else 18:00 (`default`);
    - the SoC: the median of those same plug-ins' known SoC, else the configured
      arrival SoC (`assumed`);
    - the next such instant after `now` (today's if it is still ahead, else the next
      day's).
    """

    def __init__(self, items: Iterable[tuple[datetime, float | None]] = ()) -> None:
        self.items: list[tuple[datetime, float | None]] = list(items)

    def add(self, at: datetime, soc_pct: float | None) -> bool:
        """Record a plug-in (once: the same instant again is ignored)."""
        at = at.astimezone(UTC)
        if any(at == seen for seen, _ in self.items[-4:]):
            return False
        self.items.append((at, soc_pct))
        self.items.sort(key=lambda item: item[0])
        del self.items[:-ARRIVALS_KEPT]
        return True

    def expected(self, now: datetime, zone: tzinfo, default_soc: float) -> Arrival:
        today, _ = _home_day(now, zone)
        found = None
        for offset in range(3):
            day = today + timedelta(days=offset)
            found = self._typical(day, zone, default_soc)
            if found.at > now:
                return found
        assert found is not None
        return found

    def _typical(self, day: date, zone: tzinfo, default_soc: float) -> Arrival:
        placed = [(*_home_day(at, zone), soc) for at, soc in self.items]
        same = [p for p in placed if p[0].weekday() == day.weekday()][-ARRIVALS_USED:]
        recent = placed[-ARRIVALS_USED:]
        if len(same) >= ARRIVALS_NEEDED:
            used, basis = same, "weekday"
        elif len(recent) >= ARRIVALS_NEEDED:
            used, basis = recent, "recent"
        else:
            minute = (DEFAULT_ARRIVAL.hour - DAY_STARTS_H) * 60 + DEFAULT_ARRIVAL.minute
            return Arrival(_instant(day, minute, zone), default_soc, "default", 0, "assumed")
        minute = math.floor(_median([float(m) for _, m, _ in used]) + 0.5)
        socs = [float(s) for _, _, s in used if s is not None]
        soc, soc_basis = (_median(socs), "sessions") if socs else (default_soc, "assumed")
        return Arrival(_instant(day, minute, zone), round(soc, 1), basis, len(used), soc_basis)

    def to_list(self) -> list[list[Any]]:
        return [[at.isoformat(), soc] for at, soc in self.items]

    @classmethod
    def from_list(cls, raw: object) -> Arrivals:
        items: list[tuple[datetime, float | None]] = []
        for row in raw if isinstance(raw, list) else []:
            try:
                at = datetime.fromisoformat(str(row[0]))
                soc = None if row[1] is None else float(row[1])
            except (TypeError, ValueError, IndexError, KeyError):
                continue
            if at.utcoffset() is None or (soc is not None and not 0 <= soc <= 100):
                continue
            items.append((at.astimezone(UTC), soc))
        return cls(sorted(items, key=lambda item: item[0])[-ARRIVALS_KEPT:])


# --- the day-ahead flexibility forecast -----------------------------------------------


def forecast(
    plan: Mapping[str, Any] | None,
    max_kw: float,
    now: datetime,
    *,
    arrival: datetime | None,
    departure: datetime | None,
    assumption: Mapping[str, Any],
    plugged: bool,
) -> dict[str, Any]:
    """Hour by hour for the 24 h from the current hour, as averages over the hour:

    - `shed_kw`: what the plan draws (a request can take it away);
    - `absorb_kw`: the charger's room above the plan (`max_kw` - the plan's draw) in the
      quarter hours the car is plugged in (from `arrival`, None: now, until the
      `departure`, as plan-v1 counts them) and not full;
    - `plugged_fraction`: the share of the hour the car is (expected to be) plugged in.

    `plan` is the home's plan when the car is plugged in, else one made ahead from the
    expected arrival (`assumption` says which, and what was assumed)."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    raw = list((plan or {}).get("slots") or [])
    slots: list[tuple[datetime, float, float, bool, float]] = []  # start, h, kW, in, room
    for i, s in enumerate(raw):
        s0, s1 = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        ev_kw = float(s["ev_kw"])
        inside = (arrival is None or s0 >= arrival) and (departure is None or s1 <= departure)
        before = float(raw[i - 1]["soc_pct"]) if i else (float(s["soc_pct"]) if ev_kw <= 0 else 0)
        room = max(0.0, max_kw - ev_kw) if inside and before < FULL_PCT else 0.0
        slots.append((s0, (s1 - s0) / HOUR, ev_kw, inside, room))
    hours: list[dict[str, Any]] = []
    for h in range(round(FORECAST_SPAN / HOUR)):
        h0 = start + h * HOUR
        got = [s for s in slots if h0 <= s[0] < h0 + HOUR]
        hours.append(
            {
                "start": h0.isoformat(),
                "shed_kw": round(sum(kw * span for _, span, kw, _, _ in got) + 0.0, 3),
                "absorb_kw": round(sum(room * span for _, span, _, _, room in got) + 0.0, 3),
                "plugged_fraction": round(sum(span for _, span, _, ok, _ in got if ok) + 0.0, 3),
            }
        )
    return {
        "objectType": "REPORT",
        "reportName": "day-ahead flexibility",
        "plugged": plugged,
        "units": "KW",
        "assumption": dict(assumption),
        "hours": hours,
    }


async def day_ahead(home: Home, arrivals: Arrivals, now: datetime) -> dict[str, Any]:
    """The day-ahead flexibility of `home` for the 24 h from the current hour: while the
    car is plugged in, from its plan until the departure; for the next expected plug-in
    in the window (after the departure, or from now with the car away), from a plan made
    ahead (in the executor, never installed) for the expected arrival and SoC, the
    departure after it and the dispatch events in force. In mode `off` nothing is
    absorbed (the owner does not want the car charged)."""
    session = home.session
    max_kw = 0.0 if session.settings.mode == "off" else home.driver.limits.max_kw
    end = now + FORECAST_SPAN
    parts: list[dict[str, Any]] = []
    after: datetime | None = now
    if session.plugged:
        outcome = home.planner.outcome
        departure = session.departure_at(now)
        stated: dict[str, Any] = {
            "basis": "plugged_in",
            "soc_pct": round(session.soc_pct(now), 1),
            "departure": departure.isoformat() if departure else None,
        }
        plan = outcome.response if outcome else None
        parts.append(
            forecast(
                plan,
                max_kw,
                now,
                arrival=None,
                departure=departure,
                assumption=stated,
                plugged=True,
            )
        )
        after = departure
    if after is not None and after < end:
        parts.append(await _expected_session(home, arrivals, now, after, max_kw))
    return _merged(parts, plugged=session.plugged)


async def _expected_session(
    home: Home, arrivals: Arrivals, now: datetime, after: datetime, max_kw: float
) -> dict[str, Any]:
    """The forecast of the next session expected to begin after `after`."""
    session, config = home.session, home.session_config()
    expected = arrivals.expected(after, config.timezone, config.arrival_soc_pct)
    info = session.departure_info(expected.at)
    departure = info.at if info else None
    stated = {
        "basis": "expected_arrival",
        "arrival": expected.at.isoformat(),
        "arrival_basis": expected.basis,
        "sessions": expected.sessions,
        "soc_pct": expected.soc_pct,
        "soc_basis": expected.soc_basis,
        "departure": departure.isoformat() if departure else None,
        "target_soc_pct": info.target_soc if info else session.settings.target_soc,
    }
    ahead = None
    if expected.at < now + FORECAST_SPAN:
        ahead = await home.async_plan_ahead(expected.at, expected.soc_pct, info)
    return forecast(
        ahead,
        max_kw,
        now,
        arrival=expected.at,
        departure=departure,
        assumption=stated,
        plugged=False,
    )


def _merged(parts: list[dict[str, Any]], *, plugged: bool) -> dict[str, Any]:
    """One forecast from those of sessions that do not overlap (the hours add up); the
    assumption is the first one's, the next session's under `then`."""
    first = parts[0]
    hours = [dict(h) for h in first["hours"]]
    for part in parts[1:]:
        for mine, theirs in zip(hours, part["hours"], strict=True):
            for key in ("shed_kw", "absorb_kw", "plugged_fraction"):
                mine[key] = round(mine[key] + theirs[key], 3)
    assumption = dict(first["assumption"])
    if len(parts) > 1:
        assumption["then"] = parts[1]["assumption"]
    return {**first, "plugged": plugged, "assumption": assumption, "hours": hours}
