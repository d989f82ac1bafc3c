"""When the car leaves next, and how full it must be then (pure: no Home Assistant).

Four sources, in this order of precedence:

- a one-off override (an instant, optionally its own target): the next departure
  whatever else says, until it has passed; it replaces that day's weekly departure
  ("tomorrow 05:45" instead of tomorrow's 06:30), and expires when its day ends;
- a calendar: timed events whose title contains a chosen word (case-insensitive)
  are departures at their start; a title with a percentage ("Airport 90%") sets
  that departure's target;
- the weekly schedule: per weekday a time (and optionally a target), or "not
  leaving", or nothing set (that day follows the daily time);
- the daily time (the departure setting, every day).

The next departure is the override if one is in force, else the earliest of the
next calendar departure and the next departure of the week (schedule or daily
time), each at least `lead` ahead. With every day "not leaving" and no calendar
event there is none (the planner then looks a day ahead).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
OFF = "off"  # not leaving that day
DAILY = "daily"  # that day follows the daily departure time

SOURCE_OVERRIDE = "override"
SOURCE_CALENDAR = "calendar"
SOURCE_SCHEDULE = "schedule"
SOURCE_DAILY = "daily"
SOURCES = (SOURCE_OVERRIDE, SOURCE_CALENDAR, SOURCE_SCHEDULE, SOURCE_DAILY)

# "06:30", "06:30:00", "06:30 90%", "06:30 90 %"
_DAY = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?(?:\s+(\d{1,3}(?:\.\d+)?)\s*%)?\s*$")
_PERCENT = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s*%")
# How far ahead a weekly departure is looked for: a week and a day (every weekday once,
# and today's time again when it has just passed).
_WEEK = 8


def _fail(name: str, rule: str) -> ValueError:
    return ValueError(f"{name}: {rule}")


def _target(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(name, "must be a number between 0 and 100")
    if not 0 <= value <= 100:
        raise _fail(name, "must be between 0 and 100")
    return float(value)


@dataclass(frozen=True, slots=True)
class Day:
    """One weekday: leave at `time` ("HH:MM"; None: the daily time), or not at all."""

    leave: bool = True
    time: str | None = None
    target_soc: float | None = None  # None: the target setting

    @property
    def follows_daily(self) -> bool:
        return self.leave and self.time is None and self.target_soc is None

    def describe(self) -> str:
        if not self.leave:
            return OFF
        if self.time is None:
            return DAILY if self.target_soc is None else f"{DAILY} {self.target_soc:g}%"
        return self.time if self.target_soc is None else f"{self.time} {self.target_soc:g}%"


def parse_day(raw: object, name: str) -> Day:
    """A weekday from "off", "daily", "HH:MM", "HH:MM NN%" or {"time", "target_soc"}."""
    if raw is None:
        return Day()
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"time", "target_soc", "leave"}
        if unknown:
            raise _fail(f"{name}.{sorted(unknown)[0]}", "is not a field of a day")
        if raw.get("leave") is False:
            return Day(leave=False)
        target = _target(raw.get("target_soc"), f"{name}.target_soc")
        when = raw.get("time")
        if when is None or when == "":
            return Day(target_soc=target)
        day = parse_day(when, f"{name}.time")
        return Day(time=day.time, target_soc=target if target is not None else day.target_soc)
    if isinstance(raw, time):
        return Day(time=f"{raw.hour:02d}:{raw.minute:02d}")
    if not isinstance(raw, str):
        raise _fail(name, 'must be "off", "daily", a time HH:MM or "HH:MM NN%"')
    text = raw.strip().lower()
    if text == OFF:
        return Day(leave=False)
    if text in (DAILY, ""):
        return Day()
    match = _DAY.match(text)
    if match is None:
        raise _fail(name, 'must be "off", "daily", a time HH:MM or "HH:MM NN%"')
    target = None if match[3] is None else _target(float(match[3]), name)
    return Day(time=f"{int(match[1]):02d}:{match[2]}", target_soc=target)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Monday to Sunday. The empty schedule (every day follows the daily time) is the default."""

    days: tuple[Day, ...] = (Day(),) * 7

    def __post_init__(self) -> None:
        if len(self.days) != 7 or not all(isinstance(d, Day) for d in self.days):
            raise _fail("schedule", "must have seven days, Monday to Sunday")

    @classmethod
    def from_dict(cls, raw: object) -> Schedule:
        """From {"monday": "06:30", "sunday": "off", ...}; days not named follow the daily time.

        ValueError names the field and the rule.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise _fail("schedule", "must be a mapping of weekdays")
        unknown = set(raw) - set(WEEKDAYS)
        if unknown:
            raise _fail(str(sorted(unknown)[0]), "is not a weekday (monday to sunday)")
        return cls(tuple(parse_day(raw.get(name), name) for name in WEEKDAYS))

    def to_dict(self) -> dict[str, str]:
        """Only the days that differ from the daily time (JSON-safe; `from_dict` reads it)."""
        return {
            name: day.describe()
            for name, day in zip(WEEKDAYS, self.days, strict=True)
            if not day.follows_daily
        }

    def updated(self, changes: Mapping[str, object]) -> Schedule:
        """This schedule with some days changed (the others kept)."""
        merged: dict[str, object] = dict(self.to_dict())
        merged.update(changes)
        return Schedule.from_dict(merged)

    @property
    def empty(self) -> bool:
        return all(day.follows_daily for day in self.days)


@dataclass(frozen=True, slots=True)
class Override:
    """A one-off departure: this instant (UTC), optionally with its own target."""

    at: datetime
    target_soc: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.at, datetime) or self.at.utcoffset() is None:
            raise _fail("departure", "must be a timezone-aware date and time")
        object.__setattr__(self, "at", self.at.astimezone(UTC))
        object.__setattr__(self, "target_soc", _target(self.target_soc, "target_soc"))

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "target_soc": self.target_soc}

    def expired(self, at: datetime, zone: tzinfo) -> bool:
        """Past, and its local day is over (until then it stands for that day's departure)."""
        return at.astimezone(zone).date() > self.at.astimezone(zone).date()

    @classmethod
    def from_dict(cls, raw: object) -> Override | None:
        """None for anything that is not a saved override (never raises)."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("at"), str):
            return None
        try:
            return cls(datetime.fromisoformat(raw["at"]), raw.get("target_soc"))
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    start: datetime  # aware
    summary: str


@dataclass(frozen=True, slots=True)
class Departure:
    """The departure in force: when (UTC), the target then, and where it came from."""

    at: datetime
    target_soc: float
    source: str  # one of SOURCES
    label: str | None = None  # the calendar event's title

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "target_soc": self.target_soc,
            "source": self.source,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Departure | None:
        if not isinstance(raw, Mapping) or raw.get("source") not in SOURCES:
            return None
        try:
            at = datetime.fromisoformat(str(raw["at"]))
            target = _target(raw.get("target_soc"), "target_soc")
        except (KeyError, TypeError, ValueError):
            return None
        if at.utcoffset() is None or target is None:
            return None
        label = raw.get("label")
        return cls(
            at.astimezone(UTC),
            target,
            str(raw["source"]),
            label if isinstance(label, str) else None,
        )


def calendar_departures(events: Iterable[CalendarEvent], word: str) -> list[CalendarEvent]:
    """The events whose title contains `word` (case-insensitive), by start."""
    needle = word.strip().casefold()
    if not needle:
        return []
    return sorted((e for e in events if needle in e.summary.casefold()), key=lambda e: e.start)


def title_target(summary: str) -> float | None:
    """A percentage in an event's title ("Airport 90%") as that departure's target."""
    match = _PERCENT.search(summary)
    if match is None:
        return None
    value = float(match[1])
    return value if 0 <= value <= 100 else None


def wall_clock_instant(day: date, hour: int, minute: int, zone: tzinfo) -> datetime:
    """The instant (UTC) the clocks in `zone` show `day` `hour`:`minute`.

    A time skipped by a spring-forward change is the first instant after the gap; a time
    shown twice at fall-back is its first occurrence.
    """
    naive = datetime.combine(day, time(hour, minute))
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(first, zone) == naive:
        return first
    # In a gap: the two folds give the instants on either side of it; the first valid
    # instant is the earliest whose wall clock reads at least `naive` (seconds suffice).
    other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    # Invariant: the wall clock reads before `naive` at lo, at least `naive` at hi.
    lo, hi = sorted((int(first.timestamp()), int(other.timestamp())))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), zone) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _hm(hhmm: str) -> tuple[int, int]:
    hour, minute = hhmm.split(":")[:2]
    return int(hour), int(minute)


def next_weekly(
    at: datetime,
    zone: tzinfo,
    daily: str,
    target: float,
    schedule: Schedule,
    lead: timedelta,
    skip: date | None = None,
) -> Departure | None:
    """The next departure of the week (schedule, else the daily time), at least `lead` ahead;
    none on the local day `skip` (an override took its place)."""
    day = at.astimezone(zone).date()
    for offset in range(_WEEK):
        when = day + timedelta(days=offset)
        plan = schedule.days[when.weekday()]
        if not plan.leave or when == skip:
            continue
        hour, minute = _hm(plan.time or daily)
        candidate = wall_clock_instant(when, hour, minute, zone)
        if candidate >= at + lead:
            source = SOURCE_DAILY if plan.follows_daily else SOURCE_SCHEDULE
            goal = plan.target_soc if plan.target_soc is not None else target
            return Departure(candidate, goal, source)
    return None


def next_departure(
    at: datetime,
    zone: tzinfo,
    *,
    daily: str,
    target: float,
    schedule: Schedule,
    override: Override | None = None,
    calendar: Iterable[CalendarEvent] = (),
    lead: timedelta = timedelta(minutes=15),
) -> Departure | None:
    """The departure in force at `at` (see the module's docstring for the precedence)."""
    at = at.astimezone(UTC)
    skip = None
    if override is not None:
        if override.at > at:
            goal = override.target_soc if override.target_soc is not None else target
            return Departure(override.at, goal, SOURCE_OVERRIDE)
        skip = override.at.astimezone(zone).date()  # used: its day has had its departure
    weekly = next_weekly(at, zone, daily, target, schedule, lead, skip)
    event = next((e for e in sorted(calendar, key=lambda e: e.start) if e.start >= at + lead), None)
    if event is not None and (weekly is None or event.start.astimezone(UTC) < weekly.at):
        titled = title_target(event.summary)
        return Departure(
            event.start.astimezone(UTC),
            titled if titled is not None else target,
            SOURCE_CALENDAR,
            event.summary,
        )
    return weekly
