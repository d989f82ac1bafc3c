"""The benchmark's request set: fixed, realistic plan-v1 requests.

Every request comes from a `Spec` below plus a generator seeded by the spec's
name, so the set is the same on every run and on every machine. Three tariffs:
- Shanghai residential TOU (CNY): peak 06:00-22:00 0.617, valley 22:00-06:00 0.307;
- SCE TOU-EV-8, winter (USD): 00-08 0.13568, 08-16 0.07724, 16-21 0.297, 21-24 0.13568;
- Dutch hourly day-ahead prices (EUR/kWh): the real ENTSO-E series from
  `optimizer.tariffs.dayahead.load_day_ahead(start, end)` when that module is
  importable and covers the dates, else a seeded synthetic day-ahead shape.
Around them: bell-shaped PV forecasts (4-10 kWp), base-load profiles, export
prices and limits, site import limits, dispatch signals, 7.4 kW single-phase and
11 kW three-phase chargers, 40-100 kWh batteries, departures, arrivals and some
targets that cannot be reached.
"""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SEED = "evflex-bench-v1"
SLOT_MINUTES = 15

SHANGHAI_TOU = ((0, 6, 0.307), (6, 22, 0.617), (22, 24, 0.307))
SCE_TOU_EV8_WINTER = ((0, 8, 0.13568), (8, 16, 0.07724), (16, 21, 0.297), (21, 24, 0.13568))
SHANGHAI_FEED_IN = 0.4155  # CNY/kWh, the coal benchmark price paid for PV export
SCE_EXPORT = 0.05  # USD/kWh, a net-billing export value (below every import price)

# Chargers: (min kW, max kW). IEC 61851's 6 A at 230 V on one or three phases.
CHARGERS = {"1p": (1.4, 7.4), "3p": (4.1, 11.0)}

Json = dict[str, Any]
Series = list[Json]
DayAheadLoader = Callable[[datetime, datetime], Any]


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """A dispatch signal, its window in hours after the request's start."""

    id: str
    type: str  # import_limit | ev_limit | price
    begin_h: float
    end_h: float
    limit_kw: float | None = None
    prices: tuple[float, ...] = ()  # price signal: one value per hour of the window


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    tariff: str  # shanghai | sce | nl
    start: str  # local time with its UTC offset
    hours: float  # horizon
    battery_kwh: float
    soc: float
    target: float
    charger: str  # 1p | 3p
    departure_h: float | None = None  # hours after start; None: no deadline
    arrival_h: float | None = None
    min_soc: float = 0.0
    efficiency: float = 0.9
    pv_kwp: float = 0.0
    sun: tuple[float, float] = (7.0, 17.0)  # local sunrise, sunset (hours)
    export: float | str | None = None  # fixed price, "spot" (day-ahead) or None
    export_limit_kw: float | None = None
    import_limit_kw: float | None = None
    base_kw: float = 0.0  # base-load scale (mean kW), 0: no base load given
    retail: bool = False  # nl: import = 1.21 * (spot + 0.13) (tax, VAT), else raw spot
    signals: tuple[SignalSpec, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    tariff: str
    request: Json
    note: str


@dataclass(frozen=True, slots=True)
class RequestSet:
    cases: list[Case]
    price_source: str  # where the day-ahead prices came from


SPECS: tuple[Spec, ...] = (
    # --- Shanghai TOU (CNY) ---------------------------------------------------
    Spec(
        "sh-evening-11kw",
        "shanghai",
        "2026-11-29T18:00:00+08:00",
        24,
        60,
        30,
        80,
        "3p",
        departure_h=13.5,
        import_limit_kw=15,
        base_kw=0.8,
        efficiency=0.92,
        note="the contract's example: home at 18:00, leaves 07:30",
    ),
    Spec(
        "sh-top-up-6kwh",
        "shanghai",
        "2026-11-29T18:00:00+08:00",
        24,
        60,
        70,
        80,
        "3p",
        departure_h=13.5,
        base_kw=0.8,
        efficiency=1.0,
        note="a top-up that 5 slots at 4.8 kW fill, on a 4.14-11.04 kW charger",
    ),
    Spec(
        "sh-nodeparture-7kw",
        "shanghai",
        "2026-11-30T20:00:00+08:00",
        24,
        50,
        20,
        90,
        "1p",
        base_kw=0.5,
        note="no deadline: as cheap as possible within 24 h",
    ),
    Spec(
        "sh-pv-feedin-above-valley",
        "shanghai",
        "2026-12-01T08:00:00+08:00",
        48,
        75,
        40,
        90,
        "3p",
        departure_h=47,
        pv_kwp=8,
        sun=(6.6, 17.0),
        export=SHANGHAI_FEED_IN,
        export_limit_kw=5,
        import_limit_kw=12,
        base_kw=0.7,
        note="feed-in 0.4155 > valley 0.307: import/export binaries",
    ),
    Spec(
        "sh-unreachable-100kwh",
        "shanghai",
        "2026-12-02T22:00:00+08:00",
        24,
        100,
        10,
        100,
        "1p",
        departure_h=8,
        base_kw=0.4,
        note="needs 90 kWh in 8 h at 7.4 kW",
    ),
    Spec(
        "sh-minsoc-tight-site",
        "shanghai",
        "2026-12-03T17:30:00+08:00",
        36,
        40,
        10,
        80,
        "3p",
        departure_h=14,
        min_soc=30,
        import_limit_kw=10,
        base_kw=1.6,
        note="min SoC forces charging in the evening peak; 10 kW site",
    ),
    Spec(
        "sh-signals",
        "shanghai",
        "2026-12-04T19:00:00+08:00",
        24,
        64,
        25,
        85,
        "3p",
        departure_h=12,
        import_limit_kw=16,
        base_kw=0.9,
        signals=(
            SignalSpec("dso-1", "import_limit", 0, 3, limit_kw=6),
            SignalSpec("agg-1", "ev_limit", 5, 7, limit_kw=3.0),
            SignalSpec("agg-2", "price", 7, 9, prices=(0.1, 0.1)),
        ),
        note="ev_limit below the 4.1 kW minimum: no charging there",
    ),
    Spec(
        "sh-arrival-ahead",
        "shanghai",
        "2026-12-05T12:00:00+08:00",
        48,
        80,
        20,
        80,
        "1p",
        arrival_h=6.5,
        departure_h=20,
        base_kw=0.6,
        note="a plan made ahead: plugged in 18:30, leaves 08:00",
    ),
    Spec(
        "sh-above-target-free-pv",
        "shanghai",
        "2026-12-06T00:00:00+08:00",
        48,
        70,
        85,
        80,
        "1p",
        pv_kwp=6,
        sun=(6.6, 17.0),
        base_kw=0.5,
        note="already above target; only PV that would be curtailed may be taken",
    ),
    # --- SCE TOU-EV-8 winter (USD) ----------------------------------------------
    Spec(
        "sce-evening-7kw",
        "sce",
        "2026-01-12T17:00:00-08:00",
        24,
        75,
        30,
        80,
        "1p",
        departure_h=14,
        base_kw=0.9,
        note="on-peak 16-21 must be avoided",
    ),
    Spec(
        "sce-pv-net-billing",
        "sce",
        "2026-01-13T06:00:00-08:00",
        48,
        82,
        35,
        90,
        "3p",
        departure_h=26,
        pv_kwp=6,
        sun=(7.0, 17.1),
        export=SCE_EXPORT,
        base_kw=0.8,
        note="PV and the 08-16 super-off-peak compete",
    ),
    Spec(
        "sce-home-office-day",
        "sce",
        "2026-01-14T07:00:00-08:00",
        24,
        60,
        20,
        90,
        "1p",
        arrival_h=1.5,
        departure_h=9,
        pv_kwp=4,
        sun=(7.0, 17.1),
        import_limit_kw=9.6,
        base_kw=1.0,
        note="parked 08:30-16:00 in the cheap window, 40 A service",
    ),
    Spec(
        "sce-unreachable-ev-limit",
        "sce",
        "2026-01-15T18:00:00-08:00",
        24,
        100,
        20,
        95,
        "3p",
        departure_h=12,
        base_kw=0.8,
        signals=(SignalSpec("util-1", "ev_limit", 0, 12, limit_kw=4.5),),
        note="utility caps the EV at 4.5 kW all night",
    ),
    Spec(
        "sce-zero-export-48h",
        "sce",
        "2026-01-16T00:00:00-08:00",
        48,
        40,
        50,
        100,
        "1p",
        pv_kwp=5,
        sun=(6.95, 17.15),
        export=SCE_EXPORT,
        export_limit_kw=0,
        base_kw=0.6,
        note="no deadline, zero-export site: surplus PV is curtailed",
    ),
    Spec(
        "sce-minsoc-signals",
        "sce",
        "2026-01-17T15:00:00-08:00",
        36,
        70,
        12,
        80,
        "3p",
        departure_h=16.5,
        min_soc=25,
        import_limit_kw=19.2,
        base_kw=1.8,
        signals=(
            SignalSpec("util-2", "import_limit", 1, 6, limit_kw=2.0),
            SignalSpec("util-3", "price", 9, 12, prices=(0.05, 0.05, 0.05)),
        ),
        note="min SoC against a peak-hours limit the base load breaks",
    ),
    Spec(
        "sce-arrival-no-departure",
        "sce",
        "2026-01-18T12:00:00-08:00",
        30,
        90,
        15,
        70,
        "3p",
        arrival_h=5,
        pv_kwp=7,
        sun=(6.95, 17.15),
        export=SCE_EXPORT,
        export_limit_kw=5,
        base_kw=0.7,
        note="plugged in at 17:00, no deadline, 30 h horizon",
    ),
    # --- Netherlands, hourly day-ahead (EUR) -----------------------------------
    Spec(
        "nl-winter-retail-11kw",
        "nl",
        "2024-01-15T17:00:00+01:00",
        24,
        77,
        25,
        80,
        "3p",
        departure_h=14.5,
        retail=True,
        import_limit_kw=17.3,
        base_kw=0.7,
        note="dynamic retail contract, 25 A three-phase connection",
    ),
    Spec(
        "nl-spring-pv-negative",
        "nl",
        "2024-05-12T06:00:00+02:00",
        48,
        60,
        30,
        90,
        "3p",
        departure_h=26,
        pv_kwp=10,
        sun=(5.8, 21.4),
        export="spot",
        export_limit_kw=8,
        base_kw=0.5,
        note="sunny Sunday: raw spot import/export, negative midday hours",
    ),
    Spec(
        "nl-summer-pv-retail",
        "nl",
        "2024-07-03T07:00:00+02:00",
        36,
        58,
        40,
        80,
        "1p",
        departure_h=24,
        pv_kwp=7,
        sun=(5.5, 22.0),
        retail=True,
        export="spot",
        base_kw=0.6,
        note="retail import, spot export",
    ),
    Spec(
        "nl-autumn-signals",
        "nl",
        "2023-10-20T18:00:00+02:00",
        24,
        64,
        20,
        80,
        "3p",
        departure_h=13,
        retail=True,
        import_limit_kw=17.3,
        base_kw=1.0,
        signals=(
            SignalSpec("dso-2", "import_limit", 0, 3, limit_kw=5),
            SignalSpec("agg-3", "ev_limit", 5, 7, limit_kw=4.5),
        ),
        note="congestion window then an aggregator EV cap",
    ),
    Spec(
        "nl-unreachable-8kw-site",
        "nl",
        "2024-02-20T20:00:00+01:00",
        24,
        100,
        5,
        100,
        "3p",
        departure_h=9,
        retail=True,
        import_limit_kw=8,
        base_kw=1.2,
        note="11 kW charger behind an 8 kW connection",
    ),
    Spec(
        "nl-arrival-forecast-48h",
        "nl",
        "2024-03-10T00:00:00+01:00",
        48,
        50,
        20,
        100,
        "1p",
        arrival_h=18,
        departure_h=32,
        retail=True,
        base_kw=0.5,
        note="day-ahead flexibility forecast for tomorrow evening",
    ),
    Spec(
        "nl-pv-fixed-feedin",
        "nl",
        "2024-04-21T08:00:00+02:00",
        24,
        40,
        20,
        80,
        "1p",
        departure_h=10,
        pv_kwp=9,
        sun=(6.6, 20.7),
        export=0.05,
        export_limit_kw=6,
        base_kw=0.5,
        note="raw spot import, feed-in 0.05 above it in cheap hours: binaries",
    ),
    Spec(
        "nl-minsoc-price-signal",
        "nl",
        "2024-09-05T16:00:00+02:00",
        30,
        90,
        8,
        70,
        "3p",
        departure_h=15.5,
        min_soc=20,
        retail=True,
        base_kw=0.9,
        signals=(SignalSpec("agg-4", "price", 9, 11, prices=(0.02, 0.04)),),
        note="min SoC, then a flexibility price window at 01:00-03:00",
    ),
    Spec(
        "nl-december-nodeparture",
        "nl",
        "2024-12-02T18:00:00+01:00",
        40,
        52,
        35,
        80,
        "1p",
        pv_kwp=4,
        sun=(8.6, 16.5),
        retail=True,
        export="spot",
        export_limit_kw=4,
        base_kw=0.6,
        note="no deadline, 40 h horizon, weak winter PV",
    ),
)

# The --quick smoke run: one request per tariff.
QUICK = ("sh-pv-feedin-above-valley", "sce-pv-net-billing", "nl-spring-pv-negative")


def build_requests() -> RequestSet:
    """The whole request set, in `SPECS` order."""
    loader, why = _day_ahead_loader()
    sources: set[str] = set()
    cases = []
    for spec in SPECS:
        request, source = _request(spec, loader, why)
        if source:
            sources.add(source)
        cases.append(Case(spec.name, spec.tariff, request, spec.note))
    return RequestSet(cases, "; ".join(sorted(sources)) or "none")


def _day_ahead_loader() -> tuple[DayAheadLoader | None, str]:
    try:
        module = importlib.import_module("optimizer.tariffs.dayahead")
    except ImportError as err:
        return None, f"optimizer.tariffs.dayahead not importable ({err})"
    loader = getattr(module, "load_day_ahead", None)
    if not callable(loader):
        return None, "optimizer.tariffs.dayahead has no load_day_ahead"
    return loader, ""


# --- one request -------------------------------------------------------------


def _request(spec: Spec, loader: DayAheadLoader | None, why: str) -> tuple[Json, str]:
    rng = random.Random(f"{SEED}/{spec.name}")
    start = datetime.fromisoformat(spec.start)
    end = start + timedelta(hours=spec.hours)
    source = ""
    if spec.tariff == "shanghai":
        imports, currency = tou_series(SHANGHAI_TOU, start, end), "CNY"
        spot: Series = []
    elif spec.tariff == "sce":
        imports, currency = tou_series(SCE_TOU_EV8_WINTER, start, end), "USD"
        spot = []
    else:
        spot, source = day_ahead(start, end, rng, loader, why)
        imports, currency = (retail(spot) if spec.retail else spot), "EUR"

    prices: Json = {"import": imports}
    if spec.export == "spot":
        prices["export"] = spot
    elif isinstance(spec.export, float):
        prices["export"] = [_interval(start, end, spec.export)]

    low, high = CHARGERS[spec.charger]
    vehicle: Json = {
        "battery_kwh": spec.battery_kwh,
        "soc_pct": spec.soc,
        "target_soc_pct": spec.target,
        "min_soc_pct": spec.min_soc,
        "charge_efficiency": spec.efficiency,
    }
    if spec.departure_h is not None:
        vehicle["departure"] = _iso(start + timedelta(hours=spec.departure_h))
    if spec.arrival_h is not None:
        vehicle["arrival"] = _iso(start + timedelta(hours=spec.arrival_h))
    site: Json = {}
    if spec.import_limit_kw is not None:
        site["import_limit_kw"] = spec.import_limit_kw
    if spec.export_limit_kw is not None:
        site["export_limit_kw"] = spec.export_limit_kw

    request: Json = {
        "version": 1,
        "start": _iso(start),
        "slot_minutes": SLOT_MINUTES,
        "horizon_hours": spec.hours,
        "currency": currency,
        "vehicle": vehicle,
        "charger": {"min_power_kw": low, "max_power_kw": high},
        "site": site,
        "prices": prices,
        "mode": "smart",
    }
    if spec.pv_kwp > 0:
        request["pv_kw"] = pv_forecast(start, end, spec.pv_kwp, spec.sun, rng)
    if spec.base_kw > 0:
        request["base_load_kw"] = base_load(start, end, spec.base_kw, rng)
    if spec.signals:
        request["signals"] = [_signal(s, start) for s in spec.signals]
    return request, source


def _signal(spec: SignalSpec, start: datetime) -> Json:
    begin = start + timedelta(hours=spec.begin_h)
    end = start + timedelta(hours=spec.end_h)
    out: Json = {"id": spec.id, "type": spec.type, "start": _iso(begin), "end": _iso(end)}
    if spec.limit_kw is not None:
        out["limit_kw"] = spec.limit_kw
    if spec.prices:
        hour = timedelta(hours=1)
        out["series"] = [
            _interval(begin + i * hour, min(end, begin + (i + 1) * hour), value)
            for i, value in enumerate(spec.prices)
        ]
    return out


# --- series ------------------------------------------------------------------


def tou_series(
    schedule: tuple[tuple[int, int, float], ...], start: datetime, end: datetime
) -> Series:
    """Whole TOU blocks, in local time, from the start's midnight past `end`."""
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    out: Series = []
    while day < end:
        for first, last, price in schedule:
            lo, hi = day + timedelta(hours=first), day + timedelta(hours=last)
            if hi > start and lo < end:
                out.append(_interval(lo, hi, price))
        day += timedelta(days=1)
    return out


def day_ahead(
    start: datetime, end: datetime, rng: random.Random, loader: DayAheadLoader | None, why: str
) -> tuple[Series, str]:
    """Hourly day-ahead prices (EUR/kWh) covering [start, end): real if possible."""
    lo = start.replace(minute=0, second=0, microsecond=0)
    hi = end if end == end.replace(minute=0, second=0, microsecond=0) else end + timedelta(hours=1)
    hi = hi.replace(minute=0, second=0, microsecond=0)
    if loader is not None:
        try:
            series = [_plain(item) for item in loader(lo, hi)]
        except (ValueError, TypeError, LookupError, OSError, RuntimeError) as err:
            why = f"load_day_ahead failed: {type(err).__name__}: {err}"
        else:
            if _covers(series, lo, hi):
                return series, "real NL day-ahead (optimizer.tariffs.dayahead)"
            why = f"load_day_ahead does not cover {_iso(lo)} .. {_iso(hi)}"
    return synthetic_day_ahead(lo, hi, rng), f"synthetic day-ahead ({why})"


def synthetic_day_ahead(lo: datetime, hi: datetime, rng: random.Random) -> Series:
    """A day-ahead-like hourly shape (EUR/kWh): night trough, morning and evening
    peaks, a midday solar dip that goes below zero on sunny spring/summer days."""
    summer = lo.month in (4, 5, 6, 7, 8, 9)
    level = rng.uniform(0.06, 0.09) if summer else rng.uniform(0.08, 0.12)
    out: Series = []
    hour = timedelta(hours=1)
    cursor = lo
    while cursor < hi:
        x = cursor.hour
        shape = (
            0.035 * math.exp(-(((x - 8) / 1.5) ** 2))
            + 0.07 * math.exp(-(((x - 19) / 2.0) ** 2))
            - 0.02 * math.exp(-(((x - 3.5) / 2.5) ** 2))
        )
        if summer:
            shape -= rng.uniform(0.06, 0.11) * math.exp(-(((x - 13.5) / 2.5) ** 2))
        value = level + shape + rng.gauss(0.0, 0.006)
        out.append(_interval(cursor, cursor + hour, round(value, 5)))
        cursor += hour
    return out


def retail(spot: Series) -> Series:
    """A Dutch dynamic contract: (spot + energy tax and supplier margin) with 21% VAT."""
    return [{**item, "value": round(1.21 * (item["value"] + 0.13), 5)} for item in spot]


def pv_forecast(
    start: datetime, end: datetime, kwp: float, sun: tuple[float, float], rng: random.Random
) -> Series:
    """A bell-shaped PV forecast at 15 min, one cloudiness per day, daylight only."""
    sunrise, sunset = sun
    day_length = sunset - sunrise
    peak_ratio = 0.45 + 0.35 * min(1.0, max(0.0, (day_length - 8.0) / 8.0))  # winter .. summer
    step = timedelta(minutes=SLOT_MINUTES)
    out: Series = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        clouds = rng.uniform(0.55, 1.0)
        t = day + timedelta(hours=sunrise)
        t -= timedelta(minutes=t.minute % SLOT_MINUTES, seconds=t.second)
        while t < day + timedelta(hours=sunset):
            mid = (t - day).total_seconds() / 3600 + SLOT_MINUTES / 120
            frac = (mid - sunrise) / day_length
            if 0.0 < frac < 1.0 and t + step > start and t < end:
                noise = max(0.0, 1.0 + rng.gauss(0.0, 0.06))
                value = kwp * peak_ratio * clouds * math.sin(math.pi * frac) ** 2 * noise
                out.append(_interval(t, t + step, round(value, 4)))
            t += step
        day += timedelta(days=1)
    return out


# Mean household draw by local hour, relative to the day's mean.
_BASE_SHAPE = (
    0.45, 0.4, 0.38, 0.38, 0.4, 0.5, 0.9, 1.4, 1.3, 0.9, 0.8, 0.8,
    0.9, 0.85, 0.8, 0.85, 1.0, 1.5, 2.0, 2.2, 1.9, 1.5, 1.0, 0.65,
)  # fmt: skip


def base_load(start: datetime, end: datetime, mean_kw: float, rng: random.Random) -> Series:
    """A household profile at 15 min: evening peak, noise and a few appliance spikes."""
    step = timedelta(minutes=SLOT_MINUTES)
    out: Series = []
    t = start
    while t < end:
        value = mean_kw * _BASE_SHAPE[t.hour] * max(0.2, 1.0 + rng.gauss(0.0, 0.15))
        if rng.random() < 0.04:  # kettle, oven, washing machine
            value += rng.uniform(1.0, 2.5)
        out.append(_interval(t, t + step, round(value, 3)))
        t += step
    return out


# --- helpers -----------------------------------------------------------------


def _iso(t: datetime) -> str:
    return t.isoformat()


def _interval(lo: datetime, hi: datetime, value: float) -> Json:
    return {"start": _iso(lo), "end": _iso(hi), "value": value}


def _plain(item: Any) -> Json:
    """An interval from the loader as plain JSON (ISO strings, float value)."""
    out: Json = {}
    for key in ("start", "end"):
        value = item[key]
        out[key] = value.isoformat() if isinstance(value, datetime) else str(value)
    out["value"] = float(item["value"])
    return out


def _covers(series: Series, lo: datetime, hi: datetime) -> bool:
    cursor = lo
    for item in sorted(series, key=lambda i: datetime.fromisoformat(i["start"])):
        s, e = datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])
        if e <= cursor:
            continue
        if s > cursor:
            return False
        cursor = e
        if cursor >= hi:
            return True
    return cursor >= hi
