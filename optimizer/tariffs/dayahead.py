"""Real hourly day-ahead prices (Netherlands), read offline, as plan-v1 series.

Source and licence: hourly day-ahead prices of the Netherlands bidding zone,
2015-01-01 00:00 to 2025-01-07 23:00 UTC, originally published by ENTSO-E on its
Transparency Platform (cite ENTSO-E as the source of the figures), in the file
``ev2gym/data/Netherlands_day-ahead-2015-2024.csv`` of the ev2gym 2.0.0 package
(MIT licence, copyright 2024 Stavros Orfanoudakis). scripts/setup installs that
package without its dependencies; only the CSV is read, located through the
package metadata, because importing ev2gym would need gymnasium.

The file is parsed once per process and cleaned on the way:
- prices are EUR/MWh in the file and EUR/kWh here;
- its two date formats are both read: "2015-01-01 00:00:00" and, later,
  "07/01/2025 21:00" (day/month/year);
- its empty row is skipped, and hours that appear twice (January to September
  2023 is in the file twice, with equal prices) keep their first price;
- the two hours it lacks (2023-12-30 23:00 and 2024-12-30 23:00 UTC) take the
  price of the hour before, so that any range inside the data is continuous;
  a longer gap, should the file ever have one, makes its hours unavailable.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from .tou import TariffError, _utc

CSV_PATH = "ev2gym/data/Netherlands_day-ahead-2015-2024.csv"
MAX_FILLED_HOURS = 2  # gaps up to this long are bridged with the previous hour's price

_HOUR = timedelta(hours=1)


class DataUnavailable(RuntimeError):
    """The day-ahead data set is not installed (or not readable) on this machine."""


@dataclass(frozen=True, slots=True)
class _Prices:
    first: datetime  # UTC start of the first hour
    values: tuple[float | None, ...]  # EUR/kWh per hour from `first`; None: no price

    @property
    def end(self) -> datetime:
        return self.first + len(self.values) * _HOUR


def day_ahead_range() -> tuple[datetime, datetime]:
    """The [start, end) span (UTC) that `load_day_ahead` can serve."""
    prices = _prices()
    return prices.first, prices.end


def load_day_ahead(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Netherlands day-ahead prices (EUR/kWh) as plan-v1 hourly intervals covering [start, end).

    Intervals follow the UTC hours, the first and last cut at start and end;
    times are written in the time zone of `start`.
    """
    lo, hi = _utc(start, "start"), _utc(end, "end")
    if hi <= lo:
        raise TariffError("end", "must be after start")
    prices = _prices()
    if lo < prices.first:
        raise TariffError(
            "start", f"must not be before {prices.first.isoformat()} (where the data begin)"
        )
    if hi > prices.end:
        raise TariffError("end", f"must not be after {prices.end.isoformat()} (where the data end)")
    zone = start.tzinfo
    index = int((lo - prices.first) // _HOUR)
    out: list[dict[str, Any]] = []
    cursor = lo
    while cursor < hi:
        hour = prices.first + index * _HOUR
        value = prices.values[index]
        if value is None:
            raise TariffError("start", f"no day-ahead price for the hour from {hour.isoformat()}")
        stop = min(hour + _HOUR, hi)
        out.append(
            {
                "start": cursor.astimezone(zone).isoformat(),
                "end": stop.astimezone(zone).isoformat(),
                "value": value,
            }
        )
        cursor, index = stop, index + 1
    return out


def retail(
    series: Iterable[Mapping[str, Any]], adder_per_kwh: float, vat_pct: float
) -> list[dict[str, Any]]:
    """Wholesale prices to consumer prices: (value + adder) * (1 + vat / 100), per interval.

    `adder_per_kwh` stands for what a retail contract adds per kWh (energy tax,
    grid fees, supplier margin); it may be negative (a rebate).
    """
    adder = _finite(adder_per_kwh, "adder_per_kwh")
    vat = _finite(vat_pct, "vat_pct")
    if vat < 0:
        raise TariffError("vat_pct", "must be at least 0")
    factor = 1 + vat / 100
    # Rounded to 1e-9 so float noise (0.22377740000000002) stays out of the JSON.
    return [{**item, "value": round((item["value"] + adder) * factor, 9)} for item in series]


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TariffError(where, "must be a finite number")
    return float(value)


# --- the data set ------------------------------------------------------------


def _csv_path() -> Path:
    try:
        dist = metadata.distribution("ev2gym")
    except metadata.PackageNotFoundError as err:
        raise DataUnavailable(
            "the day-ahead price data (package ev2gym 2.0.0) is not installed: run scripts/setup"
        ) from err
    path = Path(str(dist.locate_file(CSV_PATH)))
    if not path.is_file():
        raise DataUnavailable(f"{path} is missing: run scripts/setup to reinstall ev2gym 2.0.0")
    return path


@functools.cache
def _prices() -> _Prices:
    return _parse(_csv_path())


def _parse(path: Path) -> _Prices:
    by_hour: dict[datetime, float] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows, None)  # header
        for line, row in enumerate(rows, start=2):
            if len(row) < 4 or not row[1].strip():
                continue  # the file's one empty row
            try:
                hour = _hour(row[1].strip())
                value = round(float(row[3]) / 1000, 8)  # EUR/MWh -> EUR/kWh, nearest float
            except ValueError as err:
                raise DataUnavailable(f"{path}:{line}: unreadable row {row!r}") from err
            by_hour.setdefault(hour, value)  # a repeated hour keeps its first price
    if not by_hour:
        raise DataUnavailable(f"{path} holds no prices: run scripts/setup to reinstall it")
    first, last = min(by_hour), max(by_hour)
    values = [by_hour.get(first + i * _HOUR) for i in range(int((last - first) // _HOUR) + 1)]
    # Bridge short gaps only: an hour or two missing is a glitch of the file, more is missing
    # data. The first and the last hour always have a price, so every gap has one before it.
    index = 0
    while index < len(values):
        if values[index] is not None:
            index += 1
            continue
        stop = index
        while values[stop] is None:
            stop += 1
        if stop - index <= MAX_FILLED_HOURS:
            values[index:stop] = [values[index - 1]] * (stop - index)
        index = stop
    return _Prices(first, tuple(values))


def _hour(text: str) -> datetime:
    if "/" in text:  # "07/01/2025 21:00": day/month/year
        if len(text) != 16 or text[2] != "/" or text[5] != "/" or text[13] != ":":
            raise ValueError(text)
        day, month, year = int(text[0:2]), int(text[3:5]), int(text[6:10])
        hour, minute = int(text[11:13]), int(text[14:16])
        parsed = datetime(year, month, day, hour, minute, tzinfo=UTC)
    else:
        parsed = datetime.fromisoformat(text).replace(tzinfo=UTC)
    if parsed.minute or parsed.second or parsed.microsecond:
        raise ValueError(f"{text} is not on the hour")
    return parsed
