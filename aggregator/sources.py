"""Real data for the fleet study, read from the files of the ev2gym 2.0.0 wheel.

The wheel (MIT licence) is installed without its code's dependencies; its
package is never imported (its `__init__` needs gymnasium): files are located
through `importlib.metadata`. What each file is:

ElaadNL (the Dutch charge-point operator's open statistics of public, home and
workplace charging sessions, as shipped by ev2gym 2.0.0, MIT licence; they are
distributions, not sessions). The study uses the "private" (home) columns:
- `distribution-of-arrival.csv`, `distribution-of-arrival-weekend.csv`: the
  share (%) of sessions arriving in each 15-minute bin of the day (96 rows,
  each column sums to 100), weekdays and weekends.
- `distribution-of-connection-time.csv`: an exceedance curve: row p (0..100)
  gives the connection time (h) that p% of sessions exceed (private median 11 h).
- `distribution-of-energy-demand.csv`: the same for the energy charged per
  session (kWh; private median 19.4 kWh).
- `mean-session-length-per.csv`, `mean-demand-per-arrival.csv`: the mean
  session length (h) and energy (kWh) by arrival half-hour (48 rows, in the
  file's own order, not sorted), columns home, public, work (blank where no data).
- `time_of_connection_vs_hour.npy`: 24 x 48, per arrival hour the probability of
  each connection time in 30-minute bins (ev2gym's commented-out alternative;
  mostly short stays, so not used for home sessions).

Other files:
- `residential_loads.csv`: 35,040 x 25, household demand in kW every 15 minutes
  for a year, no header. Pecan Street (Texas) origin per ev2gym's documentation;
  the upstream licence is unverified. A few values are negative (net of PV):
  they are clipped to 0 here.
- `pv_netherlands.csv`: 8,760 hourly PV capacity factors for 2019 (columns
  time (UTC), local_time, electricity), used by their local hour.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
PACKAGE = "ev2gym"
SLOTS_PER_DAY = 96
DAYS_PER_YEAR = 365


class DataMissing(RuntimeError):
    """The ev2gym data files are not installed."""


def data_dir() -> Path:
    try:
        root = Path(str(distribution(PACKAGE).locate_file("ev2gym/data")))
    except PackageNotFoundError as err:
        raise DataMissing(
            "the fleet study reads real data from the ev2gym wheel: "
            "pip install --no-deps ev2gym==2.0.0 (or use the data-free fleet)"
        ) from err
    if not root.is_dir():
        raise DataMissing(f"ev2gym is installed but {root} is missing")
    return root


def _rows(name: str) -> list[list[str]]:
    with (data_dir() / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _column(rows: list[list[str]], name: str) -> Array:
    index = rows[0].index(name)
    return np.array(
        [float(row[index]) if row[index:] and row[index] else np.nan for row in rows[1:]]
    )


def _by_half_hour(rows: list[list[str]], name: str) -> Array:
    """A column keyed by "HH:MM" arrival time, reordered to 48 half-hours from 00:00."""
    values = _column(rows, name)
    out = np.full(48, np.nan)
    for row, value in zip(rows[1:], values, strict=True):
        hours, minutes = (int(x) for x in row[0].split(":"))
        out[hours * 2 + minutes // 30] = value
    return out


@dataclass(frozen=True, slots=True)
class ElaadNL:
    arrival_weekday: Array  # probability per 15-minute bin from 00:00 (96, sums to 1)
    arrival_weekend: Array
    exceedance_pct: Array  # 0..100: the x axis of the two exceedance curves
    connection_hours: Array  # hours exceeded by exceedance_pct % of sessions
    energy_kwh: Array  # kWh exceeded by exceedance_pct % of sessions
    mean_session_hours: Array  # by arrival half-hour from 00:00 (48)
    mean_energy_kwh: Array  # by arrival half-hour from 00:00 (48)
    connection_vs_hour: Array  # 24 arrival hours x 48 half-hour stays, rows sum to 1


@functools.cache
def elaadnl() -> ElaadNL:
    """The private (home) ElaadNL distributions."""
    arrival = _rows("distribution-of-arrival.csv")
    weekend = _rows("distribution-of-arrival-weekend.csv")
    connection = _rows("distribution-of-connection-time.csv")
    energy = _rows("distribution-of-energy-demand.csv")
    return ElaadNL(
        arrival_weekday=_column(arrival, "private") / 100,
        arrival_weekend=_column(weekend, "private") / 100,
        exceedance_pct=_column(connection, "Percentage of charging events"),
        connection_hours=_column(connection, "private"),
        energy_kwh=_column(energy, "private"),
        mean_session_hours=_by_half_hour(_rows("mean-session-length-per.csv"), "home"),
        mean_energy_kwh=_by_half_hour(_rows("mean-demand-per-arrival.csv"), "home"),
        connection_vs_hour=np.load(data_dir() / "time_of_connection_vs_hour.npy"),
    )


@functools.cache
def residential_loads() -> Array:
    """Household demand (kW), 35,040 quarter-hours x 25 homes, negatives clipped to 0."""
    loads = np.loadtxt(data_dir() / "residential_loads.csv", delimiter=",")
    return np.clip(loads, 0.0, None)


@functools.cache
def pv_capacity_factors() -> Array:
    """8,760 hourly PV capacity factors (0..1), from local 00:00 on 1 January."""
    rows = _rows("pv_netherlands.csv")
    # Row i is UTC hour i, local (CET) hour i + 1: roll so that index 0 is local 00:00.
    return np.roll(np.clip(_column(rows, "electricity"), 0.0, 1.0), 1)
