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

The regions' numbers (`aggregator.regions`): `REGION_SOURCES` names the source of
every field of every region, and whether it was checked here: "checked" means
read out of a file installed with the project (the ev2gym wheel, the tariff
presets); "unverified" means a published figure or an engineering assumption
that no file installed offline lets us check (weather normals, travel surveys,
consumption figures, transformer sizes). Tests hold the registry complete.
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


@dataclass(frozen=True, slots=True)
class Source:
    """Where one number of a region comes from."""

    source: str
    checked: bool  # True: read from a file installed with the project


_ELAADNL = Source(
    "ElaadNL home-session statistics (Netherlands) as shipped by ev2gym 2.0.0 (MIT): "
    "a stand-in, no regional data installs offline",
    checked=True,
)
_STUDY = Source("a parameter of the study (swept by --ev-share)", checked=True)
_CHARGERS = Source(
    "assumption: common home charger ratings (IEC 61851 6 A minimum); no market data",
    checked=False,
)
_PV = Source("assumption: PV on roofs of the street, 3-8 kWp", checked=False)
_SPREAD = Source("assumption: a lognormal spread of daily distances", checked=False)

REGION_SOURCES: dict[str, dict[str, Source]] = {
    "cn": {
        "tariff": Source("optimizer/tariffs/presets/ (the notice cited there)", checked=True),
        "first_day": Source("chosen: a Monday in December, no DST in China", checked=True),
        "kva_per_home": Source(
            "assumption: a 630 kVA 10/0.4 kV compound transformer for some 200-300 flats",
            checked=False,
        ),
        "ev_share": _STUDY,
        "charger_shares": _CHARGERS,
        "arrival_hours": _ELAADNL,
        "km_per_day": Source(
            "assumption, 40 km: the order of published daily distances of private cars in "
            "Shanghai (city travel surveys, Shanghai EV data centre reports), not checked",
            checked=False,
        ),
        "km_sigma": _SPREAD,
        "kwh_per_km": Source(
            "assumption, 0.12-0.17 kWh/km into the battery: CLTC ratings of common Chinese "
            "compact EVs (about 0.10-0.14) plus winter heating and real driving, not checked",
            checked=False,
        ),
        "plug_in_probability": Source(
            "assumption: a car with a home charger plugs in every night", checked=False
        ),
        "base_mean_kw": Source(
            "assumption, 0.35 kW in December (~260 kWh a month): the order of a Shanghai "
            "flat's consumption with heat-pump air conditioning in winter, not checked",
            checked=False,
        ),
        "common_kw_per_home": Source(
            "assumption: the compound's lifts, pumps and lighting", checked=False
        ),
        "pv_share": _PV,
        "pv_kwp": _PV,
        "ambient_c": Source(
            "China Meteorological Administration 1991-2020 normals, Shanghai Xujiahui, "
            "December mean daily low 4 °C and high 11 °C; not checked (no file offline)",
            checked=False,
        ),
    },
    "us": {
        "tariff": Source("optimizer/tariffs/presets/ (the tariff sheet cited there)", checked=True),
        "first_day": Source("chosen: a Monday in July, no DST change in the week", checked=True),
        "kva_per_home": Source(
            "assumption: a 50 kVA pole-top transformer for about 10 homes", checked=False
        ),
        "ev_share": _STUDY,
        "charger_shares": _CHARGERS,
        "arrival_hours": _ELAADNL,
        "km_per_day": Source(
            "FHWA Highway Statistics: about 11,000-12,000 miles a year a light-duty vehicle "
            "(~50 km a day); not checked (no file offline)",
            checked=False,
        ),
        "km_sigma": _SPREAD,
        "kwh_per_km": Source(
            "US EPA ratings of US electric cars, SUVs and pickups (about 25-45 kWh per 100 mi "
            "at the plug, 0.14-0.24 kWh/km into the battery with summer air conditioning); "
            "not checked",
            checked=False,
        ),
        "plug_in_probability": Source(
            "assumption: a driver plugs in every other night", checked=False
        ),
        "base_mean_kw": Source(
            "assumption, 1.2 kW in July (~890 kWh a month): EIA's California residential "
            "average (about 500-550 kWh a month over the year) with an inland summer's air "
            "conditioning; not checked",
            checked=False,
        ),
        "common_kw_per_home": Source("assumption: no load but the homes'", checked=False),
        "pv_share": _PV,
        "pv_kwp": _PV,
        "ambient_c": Source(
            "NOAA 1991-2020 normals, Riverside CA, July mean daily low 17 °C and high 35 °C; "
            "not checked (no file offline)",
            checked=False,
        ),
    },
}
# Every region: the household profiles' shape and the daily profile of PV.
SHAPE_SOURCES: dict[str, Source] = {
    "household load shape": Source(
        "Pecan Street (Texas) via ev2gym 2.0.0 `residential_loads.csv`; upstream licence "
        "unverified; scaled to the region's study-month mean",
        checked=True,
    ),
    "PV shape": Source("ev2gym 2.0.0 `pv_netherlands.csv` (2019 capacity factors)", checked=True),
    "arrival and stay": _ELAADNL,
    "ambient shape": Source(
        "a daily cosine between the month's mean low (03:00) and high (15:00): an assumption",
        checked=False,
    ),
}


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
