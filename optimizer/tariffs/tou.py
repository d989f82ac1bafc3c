"""Time-of-use tariffs as data: validated, then expanded into plan-v1 price series.

A tariff has seasons (sets of months) and, in each season, periods: local
wall-clock spans "HH:MM"-"HH:MM" with an import price and an export price, for
weekdays, weekends (listed holidays count as weekends) or all days. Each season
must cover the 24 h of both day types exactly once, and the seasons must cover
each month exactly once; anything else is refused with a `TariffError` naming
the field and the rule, e.g. ``seasons[1].periods[2].start: must be HH:MM``.

Times are read on the wall clock of the tariff's time zone, so a period follows
it through DST changes: "00:00-08:00" lasts 9 h on the night the clocks go back.
A period that wraps midnight is shorthand for two spans of the same day: on a
weekday, "22:00-06:00" is that weekday's 00:00-06:00 and 22:00-24:00. The season
and day type are always those of the local date of the instant in question.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import voluptuous as vol

from ..validation import FieldError, first_error

DAY_TYPES = ("weekday", "weekend", "all")
MAX_EXPAND = timedelta(days=731)

_DAY_MINUTES = 24 * 60
_KINDS = ("weekday", "weekend")  # the day types a date can have; "all" matches both
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class TariffError(FieldError):
    """A tariff or a request to it that breaks a rule: `field` names where, `rule` says what."""


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    days: str  # "weekday", "weekend" or "all"
    start: int  # minutes after local midnight, 0-1439
    end: int  # 1-1440, or at most `start` for a period that wraps midnight
    import_price: float
    export_price: float = 0.0

    def spans(self) -> tuple[tuple[int, int], ...]:
        """The [start, end) minute ranges of one day that the period covers."""
        if self.end > self.start:
            return ((self.start, self.end),)
        if self.end == 0:
            return ((self.start, _DAY_MINUTES),)
        return ((0, self.end), (self.start, _DAY_MINUTES))


@dataclass(frozen=True, slots=True)
class Season:
    name: str
    months: tuple[int, ...]
    periods: tuple[Period, ...]


@dataclass(frozen=True, slots=True)
class Source:
    text: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    period: Period


@dataclass(frozen=True, slots=True)
class TouTariff:
    name: str
    currency: str
    timezone: str
    seasons: tuple[Season, ...]
    source: Source = Source()
    holidays: tuple[date, ...] = ()
    # (month, "weekday"|"weekend") -> that day's spans, sorted; built once from `seasons`.
    _days: dict[tuple[int, str], tuple[_Span, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        days: dict[tuple[int, str], tuple[_Span, ...]] = {}
        for season in self.seasons:
            for kind in _KINDS:
                spans = sorted(
                    (
                        _Span(lo, hi, period)
                        for period in season.periods
                        if period.days in (kind, "all")
                        for lo, hi in period.spans()
                    ),
                    key=lambda span: span.start,
                )
                for month in season.months:
                    days[(month, kind)] = tuple(spans)
        object.__setattr__(self, "_days", days)

    # --- data in and out ----------------------------------------------------

    @classmethod
    def from_dict(cls, raw: Any) -> TouTariff:
        """Validate `raw` (a decoded tariff JSON object) or raise TariffError."""
        if not isinstance(raw, dict):
            raise TariffError("", "tariff must be a JSON object")
        try:
            data = _SCHEMA(raw)
        except vol.Invalid as err:
            raise _invalid(err) from err
        seasons = tuple(_season(s, i) for i, s in enumerate(data["seasons"]))
        _check_months(seasons)
        for index, season in enumerate(seasons):
            _check_cover(season, index)
        return cls(
            name=data["name"],
            currency=data["currency"],
            timezone=data["timezone"],
            seasons=seasons,
            source=Source(**data["source"]) if "source" in data else Source(),
            holidays=tuple(data["holidays"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The tariff as JSON-ready data; `from_dict(t.to_dict()) == t`."""
        out: dict[str, Any] = {
            "name": self.name,
            "currency": self.currency,
            "timezone": self.timezone,
            "holidays": [day.isoformat() for day in self.holidays],
            "seasons": [
                {
                    "name": season.name,
                    "months": list(season.months),
                    "periods": [
                        {
                            "name": p.name,
                            "days": p.days,
                            "start": _hhmm(p.start),
                            "end": _hhmm(p.end),
                            "import": p.import_price,
                            "export": p.export_price,
                        }
                        for p in season.periods
                    ],
                }
                for season in self.seasons
            ],
        }
        if self.source.text:  # a tariff typed in without a citation has none to write
            out["source"] = {"text": self.source.text, "url": self.source.url}
        return out

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances by key

    def import_prices(self) -> tuple[float, ...]:
        """Every import price the tariff uses, lowest first."""
        return tuple(sorted({p.import_price for s in self.seasons for p in s.periods}))

    # --- series -------------------------------------------------------------

    def expand(self, start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
        """plan-v1 {"import": [...], "export": [...]} series covering [start, end) exactly.

        Intervals break at the tariff's local period boundaries (and at start and
        end); adjacent intervals of equal value are merged. Times are written in
        the time zone of `start`.
        """
        lo, hi = _utc(start, "start"), _utc(end, "end")
        if hi <= lo:
            raise TariffError("end", "must be after start")
        if hi - lo > MAX_EXPAND:
            raise TariffError("end", f"must be at most {MAX_EXPAND.days} days after start")
        pieces = self._pieces(lo, hi)
        zone = start.tzinfo
        return {
            "import": _merged(pieces, lambda p: p.import_price, zone),
            "export": _merged(pieces, lambda p: p.export_price, zone),
        }

    def period_at(self, t: datetime) -> str:
        """The name of the period in force at `t`."""
        return self._period(_utc(t, "t")).name

    def price_at(self, t: datetime) -> float:
        """The import price at `t`."""
        return self._period(_utc(t, "t")).import_price

    def next_change(self, t: datetime) -> datetime:
        """The first instant after `t` where the import price changes (in t's time zone)."""
        now = _utc(t, "t")
        price = self._period(now).import_price
        lo = now
        # Short look-ahead first: a daily tariff changes within hours; a year covers any tariff.
        for days in (2, 40, 400):
            hi = now + timedelta(days=days)
            for begin, _end, period in self._pieces(lo, hi):
                if period.import_price != price:
                    return begin.astimezone(t.tzinfo)
            lo = hi
        raise TariffError("seasons", "the import price never changes")

    def cheapest_window(
        self, t: datetime, within: timedelta = timedelta(hours=24)
    ) -> tuple[datetime, datetime]:
        """The next span at or after `t` with the lowest import price found in [t, t + within).

        The start is `t` itself when that price is in force at `t`; the end is
        where that price stops, which may lie past `t + within`.
        """
        lo = _utc(t, "t")
        if within <= timedelta(0):
            raise TariffError("within", "must be positive")
        hi = lo + within
        series = _runs(self._pieces(lo, hi))
        best = min(value for _lo, _hi, value in series)
        begin, finish = next((a, b) for a, b, value in series if value == best)
        if finish == hi:
            with contextlib.suppress(TariffError):  # a flat tariff: nothing after is cheaper
                finish = self.next_change(finish)
        return begin.astimezone(t.tzinfo), finish.astimezone(t.tzinfo)

    def off_peak(self, t: datetime) -> bool:
        """Whether the import price at `t` is the lowest of its local day."""
        now = _utc(t, "t")
        local = now.astimezone(self.zone)
        spans = self._spans(local.date())
        return self._period(now).import_price == min(s.period.import_price for s in spans)

    # --- internals ------------------------------------------------------------

    def _spans(self, day: date) -> tuple[_Span, ...]:
        kind = "weekend" if day.weekday() >= 5 or day in self.holidays else "weekday"
        return self._days[(day.month, kind)]

    def _period(self, instant: datetime) -> Period:
        local = instant.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        for span in self._spans(local.date()):
            if span.start <= minute < span.end:
                return span.period
        raise AssertionError("validated seasons cover every minute")  # pragma: no cover

    def _pieces(self, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime, Period]]:
        """[lo, hi) (UTC) cut wherever the wall-clock period may change, each with its period.

        A period changes only where the wall clock crosses a boundary minute (an
        instant that is that local time at fold 0 or fold 1) or jumps (a DST
        transition); between such cuts one period is in force throughout.
        """
        zone = self.zone
        cuts = {lo, hi}
        day = lo.astimezone(zone).date() - timedelta(days=1)
        last = hi.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            midnight = datetime.combine(day, time())
            for span in self._spans(day):
                wall = midnight + timedelta(minutes=span.start)
                for fold in (0, 1):
                    instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                    if lo < instant < hi:
                        cuts.add(instant)
            jump = _transition(day, zone)
            if jump is not None and lo < jump < hi:
                cuts.add(jump)
            day += timedelta(days=1)
        ordered = sorted(cuts)
        return [(a, b, self._period(a)) for a, b in itertools.pairwise(ordered)]


# --- presets -----------------------------------------------------------------


@functools.cache
def list_presets() -> list[str]:
    """Names of the tariffs shipped in optimizer/tariffs/presets/ (read once: a directory scan)."""
    folder = resources.files(__package__ or "optimizer.tariffs") / "presets"
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


@functools.cache
def load_preset(name: str) -> TouTariff:
    """A shipped tariff by name (see `list_presets`); refused when unknown."""
    known = list_presets()
    if name not in known:  # also keeps the name from reaching outside presets/
        raise TariffError("preset", f"unknown tariff '{name}' (known: {', '.join(known)})")
    folder = resources.files(__package__ or "optimizer.tariffs") / "presets"
    return TouTariff.from_dict(json.loads((folder / f"{name}.json").read_text("utf-8")))


# --- time helpers ------------------------------------------------------------


def _utc(value: datetime, where: str) -> datetime:
    if not isinstance(value, datetime):
        raise TariffError(where, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TariffError(where, "must carry a time zone")
    # Arithmetic on ZoneInfo datetimes is wall-clock arithmetic: work in UTC instead.
    return value.astimezone(UTC)


def _transition(day: date, zone: ZoneInfo) -> datetime | None:
    """The first instant of `day` (local) where the UTC offset changes, if any."""
    lo = datetime.combine(day, time(), zone).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    before = lo.astimezone(zone).utcoffset()
    if hi.astimezone(zone).utcoffset() == before:
        return None
    while hi - lo > timedelta(seconds=1):  # invariant: offset(lo) == before != offset(hi)
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            mid = lo + timedelta(seconds=1)
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _runs(
    pieces: list[tuple[datetime, datetime, Period]],
    value: Callable[[Period], float] = lambda p: p.import_price,
) -> list[tuple[datetime, datetime, float]]:
    out: list[tuple[datetime, datetime, float]] = []
    for lo, hi, period in pieces:
        price = value(period)
        if out and out[-1][2] == price and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi, price)
        else:
            out.append((lo, hi, price))
    return out


def _merged(
    pieces: list[tuple[datetime, datetime, Period]],
    value: Callable[[Period], float],
    zone: tzinfo | None,
) -> list[dict[str, Any]]:
    return [
        {
            "start": lo.astimezone(zone).isoformat(),
            "end": hi.astimezone(zone).isoformat(),
            "value": v,
        }
        for lo, hi, v in _runs(pieces, value)
    ]


# --- validation --------------------------------------------------------------


def _number(value: Any) -> float:
    # bool is an int in Python and strings are not numbers in JSON: refuse both.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("must be a number")
    if not math.isfinite(value):
        raise vol.Invalid("must be a finite number")
    return float(value)


def _text(limit: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise vol.Invalid(f"must be a non-empty string of at most {limit} characters")
        return value

    return check


def _url(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 500:
        raise vol.Invalid("must be a string of at most 500 characters")
    return value


def _clock(*, end: bool) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if end and value == "24:00":
            return _DAY_MINUTES
        if not isinstance(value, str) or not _HHMM.fullmatch(value):
            raise vol.Invalid("must be HH:MM from 00:00 to " + ("24:00" if end else "23:59"))
        return int(value[:2]) * 60 + int(value[3:])

    return check


def _month(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 12:
        raise vol.Invalid("must be a month number from 1 to 12")
    return value


def _day(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise vol.Invalid("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise vol.Invalid("must be a date YYYY-MM-DD") from err


def _zone(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise vol.Invalid("must be an IANA time zone such as Europe/Amsterdam")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise vol.Invalid("must be an IANA time zone such as Europe/Amsterdam") from err
    return value


def _one_of(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise vol.Invalid("must be one of " + ", ".join(options))
        return str(value)

    return check


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise vol.Invalid("must be a list")
    return value


def _nonempty(item: Any) -> Any:
    return vol.All(_list, vol.Length(min=1, msg="must not be empty"), [item])


_PERIOD = {
    vol.Required("name"): _text(32),
    vol.Optional("days", default="all"): _one_of(DAY_TYPES),
    vol.Required("start"): _clock(end=False),
    vol.Required("end"): _clock(end=True),
    vol.Required("import"): _number,
    vol.Optional("export", default=0.0): _number,
}

_SEASON = {
    vol.Required("name"): _text(32),
    vol.Required("months"): _nonempty(_month),
    vol.Required("periods"): _nonempty(_PERIOD),
}

_SCHEMA = vol.Schema(
    {
        vol.Required("name"): _text(100),
        vol.Required("currency"): _text(8),
        vol.Required("timezone"): _zone,
        vol.Optional("source"): {
            vol.Required("text"): _text(1000),
            vol.Optional("url", default=""): _url,
        },
        vol.Optional("holidays", default=list): vol.All(_list, [_day]),
        vol.Required("seasons"): _nonempty(_SEASON),
    }
)


def _invalid(err: vol.Invalid) -> TariffError:
    return TariffError(*first_error(err))


def _season(raw: dict[str, Any], index: int) -> Season:
    periods = []
    for number, item in enumerate(raw["periods"]):
        if item["end"] == item["start"]:
            where = f"seasons[{index}].periods[{number}].end"
            raise TariffError(where, "must differ from start (00:00-24:00 is the whole day)")
        periods.append(
            Period(
                name=item["name"],
                days=item["days"],
                start=item["start"],
                end=item["end"],
                import_price=item["import"],
                export_price=item["export"],
            )
        )
    return Season(name=raw["name"], months=tuple(raw["months"]), periods=tuple(periods))


def _check_months(seasons: tuple[Season, ...]) -> None:
    owner: dict[int, int] = {}  # month -> index of the season that has it
    for index, season in enumerate(seasons):
        for month in season.months:
            if month in owner:
                where = f"seasons[{index}].months"
                if owner[month] == index:
                    raise TariffError(where, f"lists month {month} twice")
                other = seasons[owner[month]].name
                raise TariffError(where, f"month {month} is already in season '{other}'")
            owner[month] = index
    missing = [str(m) for m in range(1, 13) if m not in owner]
    if len(missing) == 1:
        raise TariffError("seasons", f"month {missing[0]} is in no season")
    if missing:
        raise TariffError("seasons", f"months {', '.join(missing)} are in no season")


def _check_cover(season: Season, index: int) -> None:
    """Each day type's day must be covered once: no gap, no overlap."""
    for kind in _KINDS:
        spans = sorted(
            (lo, hi, number)
            for number, period in enumerate(season.periods)
            if period.days in (kind, "all")
            for lo, hi in period.spans()
        )
        cursor, previous = 0, -1
        for lo, hi, number in spans:
            if lo > cursor:
                raise TariffError(
                    f"seasons[{index}].periods",
                    f"{kind}s {_hhmm(cursor)}-{_hhmm(lo)} are not covered "
                    f"in season '{season.name}'",
                )
            if lo < cursor:
                raise TariffError(
                    f"seasons[{index}].periods[{number}]",
                    f"overlaps periods[{previous}] on {kind}s "
                    f"{_hhmm(lo)}-{_hhmm(min(hi, cursor))} in season '{season.name}'",
                )
            cursor, previous = hi, number
        if cursor < _DAY_MINUTES:
            raise TariffError(
                f"seasons[{index}].periods",
                f"{kind}s {_hhmm(cursor)}-24:00 are not covered in season '{season.name}'",
            )
