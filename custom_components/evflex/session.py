"""One charger and its vehicle: the charging session, as a pure model (no Home Assistant).

The session owns what the integration must not get wrong on an ordinary day:

- the departure as an absolute instant, fixed while the car stays plugged in and rolled
  to the next day only once it has passed (DST handled: a wall time in the spring-forward
  gap moves to the first valid instant, an ambiguous fall-back time is its first occurrence);
- plug-in at once, unplug only after "disconnected" persisted for a debounce time; without
  a status sensor the car is assumed plugged in and the session starts afresh when the
  departure passes (the car left and came back);
- the session's energy, guarded: a missing meter reading is no reading, a drop is a
  counter reset, an increase is capped by the charger's maximum power and the time it
  had to deliver it;
- the state of charge: an anchor (value, time, session energy) from the last sensor
  reading, continued with the energy charged since, stale after a while;
- a boost (kWh still to deliver, or until a time) that ends with its session;
- which departure is in force (schedule.py: a one-off override, a calendar event, the
  weekly schedule or the daily time) and its target; an override expires once passed.

All instants the session returns are aware datetimes in UTC: two times in one ZoneInfo
zone compare by wall clock (fold ignored), which is wrong in the fall-back hour.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from .const import DEFAULT_DEPARTURE, DEFAULT_MIN_SOC, DEFAULT_TARGET_SOC, MODES
from .schedule import CalendarEvent, Departure, Override, Schedule, wall_clock_instant
from .schedule import next_departure as scheduled_departure

SCHEMA_VERSION = 1

# The departure is at least this far ahead when it is set (one planning slot).
DEPARTURE_LEAD = timedelta(minutes=15)
# Without an energy meter, power is integrated over at most this much time per reading:
# a longer gap means Home Assistant (or the sensor) was away, and the power then is unknown.
MAX_INTEGRATION_STEP = timedelta(minutes=5)
# A SoC sensor reading taken this shortly before plug-in still describes the arriving car.
FRESH_AT_PLUG_IN = timedelta(minutes=15)

EVENT_PLUGGED_IN = "plugged_in"
EVENT_UNPLUGGED = "unplugged"
EVENT_SESSION_STARTED = "session_started"  # a plug-in, or a roll-over without status
EVENT_SESSION_ENDED = "session_ended"  # an unplug, or a roll-over without status
EVENT_ROLLED_OVER = "rolled_over"  # the departure passed and moved to the next one
EVENT_METER_RESET = "meter_reset"
EVENT_CAPPED = "capped"
EVENT_SOC_READING = "soc_reading"  # a SoC sensor value arrived (back, or changed)
EVENT_SOC_UNAVAILABLE = "soc_unavailable"  # the SoC sensor stopped reporting
EVENT_BOOST_DONE = "boost_done"

SOURCE_SENSOR = "sensor"
SOURCE_ESTIMATE = "estimate"
SOURCE_STALE = "stale"
SOURCE_ASSUMED = "assumed"

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:[0-5]\d)?$")
_EPS = 1e-9
EVERY_DAY = Schedule()  # no weekday of its own: the daily time every day


# --- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """One observation of the charger and the car at `at` (an aware datetime).

    Values a sensor cannot give are None; non-finite or out-of-range values (a negative
    meter, a SoC of 130) are taken as None, and a negative power as 0.
    """

    at: datetime
    connected: bool | None  # None: the charger cannot tell (no status sensor, unavailable)
    meter_kwh: float | None  # the charger's energy counter now; None: no reading now
    power_kw: float | None  # measured EV power; None: unknown
    soc_pct: float | None  # the car's SoC from a sensor; None: not available now

    def __post_init__(self) -> None:
        if not isinstance(self.at, datetime) or self.at.utcoffset() is None:
            raise ValueError("at: must be a timezone-aware datetime")


@dataclass(frozen=True, slots=True)
class SessionConfig:
    battery_kwh: float
    efficiency: float  # grid -> battery
    arrival_soc_pct: float  # assumed at plug-in when no SoC is known
    max_kw: float  # the charger's maximum: caps every energy increase
    has_meter: bool  # the charger has an energy counter; else energy = integral of power
    timezone: tzinfo  # departures are local wall-clock times
    unplug_debounce: timedelta = timedelta(minutes=2)
    soc_stale_after: timedelta = timedelta(hours=12)

    def __post_init__(self) -> None:
        require(_positive(self.battery_kwh), "battery_kwh", "must be a number above 0")
        require(
            _finite(self.efficiency) and 0 < self.efficiency <= 1,
            "efficiency",
            "must be above 0 and at most 1",
        )
        require(_percent(self.arrival_soc_pct), "arrival_soc_pct", "must be between 0 and 100")
        require(_positive(self.max_kw), "max_kw", "must be a number above 0")
        require(isinstance(self.has_meter, bool), "has_meter", "must be true or false")
        require(isinstance(self.timezone, tzinfo), "timezone", "must be a time zone")
        require(
            isinstance(self.unplug_debounce, timedelta) and self.unplug_debounce >= timedelta(0),
            "unplug_debounce",
            "must be a duration of at least 0",
        )
        require(
            isinstance(self.soc_stale_after, timedelta) and self.soc_stale_after > timedelta(0),
            "soc_stale_after",
            "must be a duration above 0",
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """What the owner chose: the departure (local HH:MM, every day), SoC targets, the mode."""

    departure: str = DEFAULT_DEPARTURE
    target_soc: float = float(DEFAULT_TARGET_SOC)
    min_soc: float = float(DEFAULT_MIN_SOC)
    mode: str = "smart"
    schedule: Schedule = EVERY_DAY  # per weekday; days not set follow `departure`

    def __post_init__(self) -> None:
        match = _HHMM.match(self.departure) if isinstance(self.departure, str) else None
        require(match is not None, "departure", "must be a time HH:MM (00:00 to 23:59)")
        assert match is not None
        object.__setattr__(self, "departure", f"{match[1]}:{match[2]}")  # seconds dropped
        require(_percent(self.target_soc), "target_soc", "must be between 0 and 100")
        require(_percent(self.min_soc), "min_soc", "must be between 0 and 100")
        require(self.min_soc <= self.target_soc, "min_soc", "must not exceed target_soc")
        require(self.mode in MODES, "mode", f"must be one of {', '.join(MODES)}")
        require(isinstance(self.schedule, Schedule), "schedule", "must be a weekly schedule")
        object.__setattr__(self, "target_soc", float(self.target_soc))
        object.__setattr__(self, "min_soc", float(self.min_soc))

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.departure.split(":")
        return int(hour), int(minute)


# --- outputs --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosedSession:
    """A session that ended: for the month's accounts (baseline cost, savings)."""

    plugged_at: datetime
    ended_at: datetime
    energy_kwh: float


@dataclass(frozen=True, slots=True)
class Observation:
    delta_kwh: float  # energy this reading added to the session (guarded)
    events: frozenset[str]
    closed: ClosedSession | None = None  # the session this reading ended, if any

    @property
    def significant(self) -> bool:
        """Worth saving soon and replanning: anything but a plain energy delta."""
        return bool(self.events)


# --- the session ----------------------------------------------------------------------


@dataclass(slots=True)
class _Anchor:
    value: float  # SoC %
    at: datetime
    energy_kwh: float  # the session's energy when the value was true
    from_sensor: bool


@dataclass(slots=True)
class _State:
    plugged: bool = False
    plugged_at: datetime | None = None
    departure: datetime | None = None
    departure_of: Departure | None = None  # its target and where it came from
    override: Override | None = None  # a one-off departure, until it has passed
    energy_kwh: float = 0.0
    disconnected_since: datetime | None = None  # the first "disconnected" while plugged
    last_at: datetime | None = None  # the latest reading
    meter_kwh: float | None = None  # the baseline: the last good meter value ...
    meter_at: datetime | None = None  # ... read at this time (the last good reading)
    meter_before: datetime | None = None  # the last time the meter read less than that
    pending_kwh: float = 0.0  # metered, plausible, not yet credited (max power x time)
    power_kw: float | None = None  # the power at the previous reading (no meter)
    anchor: _Anchor | None = None
    soc_live: bool = False  # the latest reading carried a SoC
    boost_kwh_left: float | None = None
    boost_until: datetime | None = None
    # Where the session's first grid-friendly plan centred its charging: sent with each
    # replan so that a planned start does not move later as the cheap period is used up.
    spread_anchor: datetime | None = None


class Session:
    """One charger + vehicle. Feed it readings (`observe`); ask it what it knows."""

    def __init__(self, config: SessionConfig, settings: Settings | None = None) -> None:
        self.config = config
        self.settings = settings if settings is not None else Settings()
        self._s = _State()
        self.calendar: tuple[CalendarEvent, ...] = ()  # departures from a calendar

    # --- what it knows ---

    @property
    def plugged(self) -> bool:
        return self._s.plugged

    @property
    def plugged_at(self) -> datetime | None:
        return self._s.plugged_at

    @property
    def energy_kwh(self) -> float:
        """Energy charged this session (the last session's after an unplug)."""
        return self._s.energy_kwh

    @property
    def boost_kwh_left(self) -> float | None:
        return self._s.boost_kwh_left

    @property
    def boost_until(self) -> datetime | None:
        return self._s.boost_until

    @property
    def spread_anchor(self) -> datetime | None:
        return self._s.spread_anchor

    def pin_spread_anchor(self, at: datetime) -> bool:
        """Keep the first plan's anchor for the rest of this session (True: pinned now)."""
        if not self._s.plugged or self._s.spread_anchor is not None:
            return False
        self._s.spread_anchor = at
        return True

    def departure_at(self, at: datetime) -> datetime | None:
        """The departure this session plans for (UTC); None when the car is not plugged in.

        Always after `at` while plugged in: one that has passed but not yet been rolled
        over by a reading reads as the next one.
        """
        if not self._s.plugged:
            return None
        info = self.departure_info(at)
        return None if info is None else info.at

    def departure_info(self, at: datetime) -> Departure | None:
        """The departure in force: the session's while plugged in, else the next one."""
        at = as_utc(at, "at")
        s = self._s
        if s.plugged and s.departure is not None and s.departure > at:
            if s.departure_of is not None and s.departure_of.at == s.departure:
                return s.departure_of
            return Departure(s.departure, self.settings.target_soc, "daily")
        return self._next_departure(at)

    def target_soc(self, at: datetime) -> float:
        """The target for the departure in force (the target setting without one)."""
        info = self.departure_info(at) if self._s.plugged else None
        return self.settings.target_soc if info is None else info.target_soc

    @property
    def override(self) -> Override | None:
        """The one-off departure set, until its day is over (in force until it passes)."""
        return self._s.override

    def soc_pct(self, at: datetime) -> float:
        """The car's SoC now: the last anchor plus the energy charged since, 0..100."""
        as_utc(at, "at")
        anchor = self._s.anchor
        if anchor is None:
            return float(self.config.arrival_soc_pct)
        return self._estimate(anchor)

    def soc_source(self, at: datetime) -> str:
        """ "sensor" (read now), "estimate", "stale" (anchor too old) or "assumed"."""
        at = as_utc(at, "at")
        anchor = self._s.anchor
        if anchor is None or not anchor.from_sensor:
            return SOURCE_ASSUMED
        if self._s.soc_live:
            return SOURCE_SENSOR
        if at - anchor.at > self.config.soc_stale_after:
            return SOURCE_STALE
        return SOURCE_ESTIMATE

    def boost_active(self, at: datetime) -> bool:
        at = as_utc(at, "at")
        s = self._s
        if not s.plugged:
            return False
        if s.boost_kwh_left is not None and s.boost_kwh_left > _EPS:
            return True
        return s.boost_until is not None and at < s.boost_until

    # --- what the owner does ---

    def update_settings(self, at: datetime, **changes: Any) -> None:
        """Change settings (validated: ValueError names the field and the rule).

        A new departure time takes effect at once for the car plugged in: the next time
        the clock shows it, at least 15 minutes after `at`.
        """
        at = as_utc(at, "at")
        known = {f.name for f in fields(Settings)}
        for key in changes:
            require(key in known, key, "is not a setting")
        new = replace(self.settings, **changes)
        departure_changed = (new.departure, new.schedule, new.target_soc) != (
            self.settings.departure,
            self.settings.schedule,
            self.settings.target_soc,
        )
        self.settings = new
        if departure_changed and self._s.plugged:
            self._fix_departure(at)

    def set_override(self, at: datetime, override: Override | None) -> None:
        """A one-off departure for the next trip (None clears it); in force at once."""
        at = as_utc(at, "at")
        if override is not None:
            require(override.at > at, "departure", "must be after now")
        self._s.override = override
        if self._s.plugged:
            self._fix_departure(at)

    def set_calendar(self, at: datetime, events: tuple[CalendarEvent, ...]) -> bool:
        """Departures from a calendar (already matched). True when the departure changed.

        A departure less than 15 minutes away stays as it is: the plan for it is running.
        """
        at = as_utc(at, "at")
        if tuple(events) == self.calendar:
            return False  # nothing new: a departure that passed is observe's to roll over
        self.calendar = tuple(events)
        s = self._s
        if not s.plugged or (s.departure is not None and at < s.departure < at + DEPARTURE_LEAD):
            return False
        before = s.departure_of
        self._fix_departure(at)
        return s.departure_of != before

    def set_departure(self, hhmm: str, at: datetime) -> None:
        self.update_settings(at, departure=hhmm)

    def start_boost(
        self, at: datetime, *, kwh: float | None = None, until: datetime | None = None
    ) -> None:
        """Charge at full power now: until `kwh` more are delivered, or until a time."""
        at = as_utc(at, "at")
        require(self._s.plugged, "boost", "needs the car plugged in")
        require((kwh is None) != (until is None), "boost", "give kwh or until, one of them")
        if kwh is not None:
            require(_positive(kwh), "kwh", "must be a number above 0")
            self._s.boost_kwh_left, self._s.boost_until = float(kwh), None
        else:
            assert until is not None
            end = as_utc(until, "until")
            require(end > at, "until", "must be after now")
            self._s.boost_kwh_left, self._s.boost_until = None, end

    def cancel_boost(self) -> None:
        self._s.boost_kwh_left = self._s.boost_until = None

    # --- readings ---

    def observe(self, reading: Reading) -> Observation:
        """Take one reading: plug state, energy, SoC, boost, departure. Readings in order."""
        s, cfg = self._s, self.config
        at = reading.at.astimezone(UTC)
        if s.last_at is not None and at < s.last_at:
            at = s.last_at  # the clock went back: nothing happened in between
        connected, meter, power, soc = _clean(reading)
        if connected is False and power is not None and power > 0:
            connected = True  # energy flows: the car is there, whatever the status says
        events: set[str] = set()
        closed: ClosedSession | None = None

        restart = False
        if s.override is not None and s.override.expired(at, cfg.timezone):
            s.override = None  # used (or passed unplugged), and its day is over
        if s.plugged and s.departure is None:
            self._fix_departure(at)  # restored without one (or none was in force)
        if s.plugged and s.departure is not None and at >= s.departure:
            # The departure passed. With a status, a car still reported plugged in
            # stayed (unless we were blind across the departure); without one, assume
            # it left and came back: a new session, so nothing grows across nights.
            unseen = s.last_at is None or (
                s.last_at < s.departure and at - s.last_at > cfg.unplug_debounce
            )
            restart = connected is None or (connected is True and unseen)
            self._fix_departure(at)
            events.add(EVENT_ROLLED_OVER)

        if not s.plugged and connected is not False:
            self._start(at, soc, restart=False)
            events |= {EVENT_PLUGGED_IN, EVENT_SESSION_STARTED}

        if cfg.has_meter:
            delta = self._meter_delta(at, meter, events)
        else:
            delta = self._power_delta(at, power)
        if s.plugged and delta > 0:
            s.energy_kwh += delta
            if s.boost_kwh_left is not None:
                s.boost_kwh_left -= delta
                if s.boost_kwh_left <= _EPS:
                    s.boost_kwh_left = None
                    events.add(EVENT_BOOST_DONE)
        elif not s.plugged:
            delta = 0.0

        if restart:
            closed = self._end(at)
            self._start(at, soc, restart=True)
            events |= {EVENT_SESSION_ENDED, EVENT_SESSION_STARTED}
        elif s.plugged and connected is False:
            if s.disconnected_since is None:
                s.disconnected_since = at
            if at - s.disconnected_since >= cfg.unplug_debounce:
                closed = self._end(s.disconnected_since)
                events |= {EVENT_UNPLUGGED, EVENT_SESSION_ENDED}
        elif connected is True:
            s.disconnected_since = None

        self._read_soc(at, soc, events)
        if s.boost_until is not None and at >= s.boost_until:
            s.boost_until = None
            events.add(EVENT_BOOST_DONE)
        s.last_at = at
        return Observation(delta_kwh=delta, events=frozenset(events), closed=closed)

    # --- persistence ---

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (ISO datetimes in UTC), with a schema version."""
        s = self._s
        anchor = s.anchor
        return {
            "version": SCHEMA_VERSION,
            "settings": {
                "departure": self.settings.departure,
                "target_soc": self.settings.target_soc,
                "min_soc": self.settings.min_soc,
                "mode": self.settings.mode,
                "schedule": self.settings.schedule.to_dict(),
            },
            "plugged": s.plugged,
            "plugged_at": _iso(s.plugged_at),
            "departure": _iso(s.departure),
            "departure_of": None if s.departure_of is None else s.departure_of.to_dict(),
            "override": None if s.override is None else s.override.to_dict(),
            "energy_kwh": s.energy_kwh,
            "disconnected_since": _iso(s.disconnected_since),
            "last_at": _iso(s.last_at),
            "meter_kwh": s.meter_kwh,
            "meter_at": _iso(s.meter_at),
            "meter_before": _iso(s.meter_before),
            "pending_kwh": s.pending_kwh,
            "power_kw": s.power_kw,
            "soc_anchor": None
            if anchor is None
            else {
                "value": anchor.value,
                "at": _iso(anchor.at),
                "energy_kwh": anchor.energy_kwh,
                "from_sensor": anchor.from_sensor,
            },
            "soc_live": s.soc_live,
            "boost_kwh_left": s.boost_kwh_left,
            "boost_until": _iso(s.boost_until),
            "spread_anchor": _iso(s.spread_anchor),
        }

    @classmethod
    def from_dict(cls, config: SessionConfig, raw: object) -> Session:
        """The session `to_dict` saved; unknown or bad fields read as defaults. Never raises."""
        session = cls(config)
        if not isinstance(raw, dict):
            return session
        session.settings = _settings_from(raw.get("settings"))
        s = session._s
        s.last_at = parse_instant(raw.get("last_at"))
        s.meter_kwh = _nonneg(raw.get("meter_kwh"))
        s.meter_at = parse_instant(raw.get("meter_at"))
        s.meter_before = parse_instant(raw.get("meter_before"))
        if s.meter_kwh is None or s.meter_at is None:
            s.meter_kwh = s.meter_at = s.meter_before = None
        elif s.meter_before is None or s.meter_before > s.meter_at:
            s.meter_before = s.meter_at
        s.power_kw = _nonneg(raw.get("power_kw"))
        s.energy_kwh = _nonneg(raw.get("energy_kwh")) or 0.0
        s.anchor = _anchor_from(raw.get("soc_anchor"))
        s.soc_live = raw.get("soc_live") is True and s.anchor is not None
        s.override = Override.from_dict(raw.get("override"))
        plugged_at = parse_instant(raw.get("plugged_at"))
        if raw.get("plugged") is True and plugged_at is not None:
            s.plugged, s.plugged_at = True, plugged_at
            s.pending_kwh = _nonneg(raw.get("pending_kwh")) or 0.0
            s.departure = parse_instant(raw.get("departure"))
            s.departure_of = Departure.from_dict(raw.get("departure_of"))
            s.disconnected_since = parse_instant(raw.get("disconnected_since"))
            s.boost_kwh_left = _positive_or_none(raw.get("boost_kwh_left"))
            s.boost_until = parse_instant(raw.get("boost_until"))
            s.spread_anchor = parse_instant(raw.get("spread_anchor"))
            if s.boost_kwh_left is not None:
                s.boost_until = None  # one boost at a time
        return session

    # --- internals ---

    def _next_departure(self, at: datetime) -> Departure | None:
        settings = self.settings
        return scheduled_departure(
            at,
            self.config.timezone,
            daily=settings.departure,
            target=settings.target_soc,
            schedule=settings.schedule,
            override=self._s.override,
            calendar=self.calendar,
            lead=DEPARTURE_LEAD,
        )

    def _fix_departure(self, at: datetime) -> None:
        """The departure this session plans for, from now: fixed until it passes."""
        info = self._next_departure(at)
        departure = None if info is None else info.at
        if departure != self._s.departure:
            self._s.spread_anchor = None  # placed for another window
        self._s.departure_of = info
        self._s.departure = departure

    def _estimate(self, anchor: _Anchor) -> float:
        cfg = self.config
        gained = (self._s.energy_kwh - anchor.energy_kwh) * cfg.efficiency / cfg.battery_kwh
        return min(100.0, max(0.0, anchor.value + gained * 100))

    def _start(self, at: datetime, soc: float | None, *, restart: bool) -> None:
        """A new session from `at`: energy, departure, boost afresh; the SoC re-anchored."""
        s = self._s
        anchor = s.anchor
        fresh = (
            not restart
            and anchor is not None
            and anchor.from_sensor
            and at - anchor.at <= FRESH_AT_PLUG_IN
        )
        if fresh and anchor is not None:
            s.anchor = _Anchor(self._estimate(anchor), anchor.at, 0.0, from_sensor=True)
        else:
            s.anchor = _Anchor(float(self.config.arrival_soc_pct), at, 0.0, from_sensor=False)
            s.soc_live = False
        s.plugged, s.plugged_at, s.energy_kwh, s.pending_kwh = True, at, 0.0, 0.0
        s.disconnected_since = s.spread_anchor = None
        s.boost_kwh_left = s.boost_until = None
        self._fix_departure(at)
        if soc is not None:
            s.anchor = _Anchor(soc, at, 0.0, from_sensor=True)

    def _end(self, ended_at: datetime) -> ClosedSession:
        s = self._s
        assert s.plugged_at is not None
        closed = ClosedSession(s.plugged_at, max(ended_at, s.plugged_at), s.energy_kwh)
        s.plugged, s.plugged_at, s.departure, s.disconnected_since = False, None, None, None
        s.departure_of = s.spread_anchor = None
        s.boost_kwh_left = s.boost_until = None
        s.pending_kwh = 0.0
        return closed

    def _meter_delta(self, at: datetime, meter: float | None, events: set[str]) -> float:
        """The meter's increase, guarded; credited at most max power x the time since the
        last good reading (what exceeds that waits for the next good reading).

        An increase larger than the charger could have delivered since the meter last read
        a lower value is cut to that (event "capped"): a counter that returns from a reboot
        or a glitch adds what was possible, never its lifetime reading. Measuring from the
        last lower value keeps a meter that counts in 0.1 kWh steps whole.
        """
        s = self._s
        if meter is None:
            return 0.0  # no reading now: not a reset, not a switch to integrating power
        last_good, base = s.meter_at, s.meter_kwh
        if last_good is None or base is None:
            s.meter_kwh, s.meter_at, s.meter_before = meter, at, at  # the baseline
            return 0.0
        increase = 0.0
        if meter < base:
            s.meter_before = at  # a counter reset: re-baseline, nothing added
            events.add(EVENT_METER_RESET)
        elif meter > base:
            before = s.meter_before if s.meter_before is not None else last_good
            increase = meter - base
            possible = self.config.max_kw * _hours(at - before)
            if increase > possible:
                increase = possible
                events.add(EVENT_CAPPED)
            s.meter_before = last_good
        s.meter_kwh, s.meter_at = meter, at
        if not s.plugged or s.plugged_at is None:
            s.pending_kwh = 0.0
            return 0.0
        s.pending_kwh += increase
        budget = self.config.max_kw * _hours(at - max(last_good, s.plugged_at))
        credit = min(s.pending_kwh, budget)
        s.pending_kwh -= credit
        return credit

    def _power_delta(self, at: datetime, power: float | None) -> float:
        """The previous reading's power over the time since, at most 5 minutes of it."""
        s = self._s
        previous, s.power_kw = s.power_kw, power
        if previous is None or s.last_at is None:
            return 0.0
        start = s.last_at
        if s.plugged and s.plugged_at is not None:
            start = max(start, s.plugged_at)
        step = min(max(at - start, timedelta(0)), MAX_INTEGRATION_STEP)
        return min(previous, self.config.max_kw) * _hours(step)

    def _read_soc(self, at: datetime, soc: float | None, events: set[str]) -> None:
        s = self._s
        if soc is None:
            if s.soc_live:
                events.add(EVENT_SOC_UNAVAILABLE)  # the anchor stays: a sleeping car
            s.soc_live = False
            return
        anchor = s.anchor
        if not s.soc_live or anchor is None or not anchor.from_sensor or anchor.value != soc:
            events.add(EVENT_SOC_READING)
        s.anchor = _Anchor(soc, at, s.energy_kwh, from_sensor=True)
        s.soc_live = True


# --- departure arithmetic -------------------------------------------------------------


def next_departure(
    hour: int, minute: int, at: datetime, zone: tzinfo, lead: timedelta = DEPARTURE_LEAD
) -> datetime:
    """The next instant (UTC) the local clock shows hour:minute, at least `lead` after `at`."""
    at = as_utc(at, "at")
    day = at.astimezone(zone).date()
    while True:
        candidate = wall_clock_instant(day, hour, minute, zone)
        if candidate >= at + lead:
            return candidate
        day += timedelta(days=1)


# --- helpers --------------------------------------------------------------------------


def require(ok: bool, name: str, rule: str) -> None:
    if not ok:
        raise ValueError(f"{name}: {rule}")


def finite_float(value: object) -> float | None:
    """A finite number as a float (bools are not numbers here), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _finite(value: object) -> bool:
    return finite_float(value) is not None


def _positive(value: object) -> bool:
    number = finite_float(value)
    return number is not None and number > 0


def _percent(value: object) -> bool:
    number = finite_float(value)
    return number is not None and 0 <= number <= 100


def as_utc(at: datetime, name: str) -> datetime:
    require(isinstance(at, datetime) and at.utcoffset() is not None, name, "must be aware")
    return at.astimezone(UTC)


def _hours(span: timedelta) -> float:
    return max(span.total_seconds(), 0.0) / 3600


def _clean(
    reading: Reading,
) -> tuple[bool | None, float | None, float | None, float | None]:
    connected = reading.connected if isinstance(reading.connected, bool) else None
    meter = finite_float(reading.meter_kwh)
    if meter is not None and meter < 0:
        meter = None
    power = finite_float(reading.power_kw)
    if power is not None:
        power = max(power, 0.0)
    soc = finite_float(reading.soc_pct) if _percent(reading.soc_pct) else None
    return connected, meter, power, soc


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def parse_instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return None if parsed.utcoffset() is None else parsed.astimezone(UTC)


def _nonneg(value: object) -> float | None:
    number = finite_float(value)
    return number if number is not None and number >= 0 else None


def _positive_or_none(value: object) -> float | None:
    number = finite_float(value)
    return number if number is not None and number > 0 else None


def _settings_from(raw: object) -> Settings:
    if not isinstance(raw, dict):
        return Settings()
    wanted = {f.name: raw[f.name] for f in fields(Settings) if f.name in raw}
    if "schedule" in wanted:
        try:
            wanted["schedule"] = Schedule.from_dict(wanted["schedule"])
        except ValueError:
            del wanted["schedule"]
    try:
        return Settings(**wanted)
    except (TypeError, ValueError):
        pass
    settings = Settings()
    for key, value in wanted.items():  # keep each field that is valid on its own
        try:
            settings = replace(settings, **{key: value})
        except (TypeError, ValueError):
            continue
    return settings


def _anchor_from(raw: object) -> _Anchor | None:
    if not isinstance(raw, dict):
        return None
    value = finite_float(raw.get("value"))
    at, energy = parse_instant(raw.get("at")), _nonneg(raw.get("energy_kwh"))
    if value is None or not 0 <= value <= 100 or at is None or energy is None:
        return None
    return _Anchor(value, at, energy, from_sensor=raw.get("from_sensor") is True)


__all__ = [
    "ClosedSession",
    "Observation",
    "Reading",
    "Session",
    "SessionConfig",
    "Settings",
    "as_utc",
    "finite_float",
    "next_departure",
    "parse_instant",
    "require",
    "wall_clock_instant",
]
