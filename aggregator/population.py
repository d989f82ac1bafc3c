"""A street of homes on one transformer, over D nights at 15-minute resolution.

Time: slot 0 starts at 12:00 local time on the region's first day; night d is
slots [96 d, 96 (d + 1)), noon to noon. Each night an EV may plug in once: it
arrives that afternoon or evening and leaves the next morning, so sessions never
overlap and nights can be planned independently. The state of charge carries
over between nights only through each night's need (energy driven since).

Randomness: one seed. Home h draws everything from its own stream
`SeedSequence(seed, spawn_key=(h,))`, so home h is the same in a street of 10
homes and in one of 10,000 (sub-populations are re-used, e.g. by the hosting
capacity bisection), and the same seed gives the same street.

Assumptions (each home), with the data behind them (`aggregator.sources`):
- EV ownership: each home draws u ~ U(0, 1); the `ev_count` homes with the
  lowest u own an EV (ev_count = round(ev_share x homes)). More EVs add homes,
  never swap them.
- Car: usable battery U(40, 100) kWh, charging efficiency U(0.88, 0.94), and
  consumption U(a, b) kWh/km into the battery (the region's range).
  Charger: 1-phase 7.4 kW (min 1.4), 3-phase 11 kW (min 4.1) or 1-phase 3.7 kW
  (min 1.4), in the region's shares.
- Arrival: ElaadNL's home (private) arrival distribution by 15-minute bin,
  weekday or weekend by the arrival day, within the region's arrival hours
  (both regions: 12:00-24:00, the night's whole afternoon and evening) and
  renormalised.
- Departure: arrival + ElaadNL's mean home-session length for that arrival
  half-hour x N(1, 0.2) (ev2gym's own spread), kept between 05:00 and 11:45 the
  next morning (the study's sessions are overnight).
- Need (kWh into the battery): the car drives a lognormal distance every day
  (the region's mean and sigma) and plugs in on a night with probability p; a
  session brings back the energy driven since the last one (distance x the
  car's kWh/km), the days before the study included (their number drawn
  geometric(p) - 1). Capped at 85% of the battery and at 95% of what the
  charger can deliver while plugged in, so every need is physically reachable:
  energy not delivered measures control, not impossible sessions (what a cap
  cuts is charged elsewhere and not carried over).
- Household load: one of the 25 Pecan Street profiles, shifted by a whole
  number of weeks (-4..4) and by -30..+30 minutes, scaled so that its mean over
  the 28 days from the study's first slot (as read, shift included) is the
  region's study-month mean x a lognormal factor of mean 1 (sigma 0.3): the
  profile's own season (Texas) never moves the region's mean, and 25 profiles
  stand in for hundreds of homes without moving in lock-step. The profiles'
  year and calendar are not the study's: weekdays do not line up.
- PV: on a share of roofs, U(3, 8) kWp x the Netherlands 2019 hourly capacity
  factor of the same day of year and local hour (held for the hour's 4 slots).
- Timer delay: U(0, 600) s per home per night, for `tou_timer_random`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from aggregator.regions import CHARGERS, REGIONS, ChargerType, Region
from aggregator.sources import SLOTS_PER_DAY, Array, elaadnl, pv_capacity_factors
from aggregator.sources import residential_loads as household_profiles
from optimizer.tariffs import TouTariff, load_preset

SLOT = timedelta(minutes=15)
HOURS_PER_SLOT = 0.25
NOON_SLOT = 48  # slot 0 of a night is 12:00
MAX_TIMER_DELAY_S = 600.0
DEPARTURE_HOURS = (5.0, 11.75)  # next morning
NEED_SHARE_OF_BATTERY = 0.85
NEED_SHARE_OF_REACH = 0.95
TARGET_SOC_PCT = 90.0
WEEK_SLOTS = 7 * SLOTS_PER_DAY
SCALE_DAYS = 28  # a profile's mean over this many days from the study is the region's
LOAD_SIGMA = 0.3  # each home's lognormal scale factor (of mean 1)


class FleetError(ValueError):
    """A fleet or study option that cannot be used."""


@dataclass(frozen=True, slots=True)
class Car:
    battery_kwh: float
    efficiency: float
    kwh_per_km: float = 0.0  # into the battery


@dataclass(frozen=True, slots=True)
class Home:
    car: Car
    charger: ChargerType
    ev_draw: float  # the home owns an EV when this is among the fleet's lowest
    pv_kwp: float
    respond_draw: float = 1.0  # the home does not respond when this is below the share


@dataclass(frozen=True, slots=True)
class Session:
    home: int
    night: int
    arrival: int  # first slot plugged in, on the fleet's grid
    departure: int  # first slot unplugged
    need_kwh: float  # into the battery by departure
    timer_delay_s: float

    @property
    def slots(self) -> range:
        return range(self.arrival, self.departure)


@dataclass(frozen=True, eq=False)
class Fleet:
    tariff: TouTariff
    start: datetime  # local 12:00 of the first day
    days: int
    rating_kw: float
    homes: tuple[Home, ...]
    base_kw: Array  # homes x slots, household load
    pv_kw: Array  # homes x slots
    common_kw: Array  # slots: feeder load that is not a home's
    all_sessions: tuple[Session, ...]  # every home's, EV owner or not
    ev_count: int
    history_kw: Array  # slots: the street load without EVs over the week before `start`

    @property
    def n_homes(self) -> int:
        return len(self.homes)

    @property
    def n_slots(self) -> int:
        return self.days * SLOTS_PER_DAY

    @functools.cached_property
    def owners(self) -> frozenset[int]:
        ranked = sorted(range(self.n_homes), key=lambda h: self.homes[h].ev_draw)
        return frozenset(ranked[: self.ev_count])

    @functools.cached_property
    def sessions(self) -> tuple[Session, ...]:
        return tuple(s for s in self.all_sessions if s.home in self.owners)

    def silent(self, share: float) -> frozenset[int]:
        """The EV homes that do not respond to the aggregator when `share` of homes do not
        (opted out, or out of touch): those with the lowest response draws."""
        return frozenset(h for h in self.owners if self.homes[h].respond_draw < share)

    def with_ev_count(self, count: int) -> Fleet:
        """The same street with `count` EV-owning homes (the lowest draws)."""
        return replace(self, ev_count=max(0, min(count, self.n_homes)))

    def slot_time(self, index: int) -> datetime:
        return self.start + index * SLOT

    @functools.cached_property
    def iso_times(self) -> list[str]:
        """The ISO time of every slot boundary, 0..n_slots (plan-v1 intervals)."""
        return [self.slot_time(i).isoformat() for i in range(self.n_slots + 1)]

    @functools.cached_property
    def import_price(self) -> Array:
        """The tariff's import price in every slot."""
        return self._tariff_series("import")

    @functools.cached_property
    def export_price(self) -> Array:
        return self._tariff_series("export")

    @functools.cached_property
    def off_peak(self) -> NDArray[np.bool_]:
        """Whether each slot has its local day's lowest import price."""
        return np.array([self.tariff.off_peak(self.slot_time(t)) for t in range(self.n_slots)])

    def _tariff_series(self, kind: str) -> Array:
        out = np.zeros(self.n_slots)
        for item in self.tariff.expand(self.start, self.slot_time(self.n_slots))[kind]:
            lo = (datetime.fromisoformat(item["start"]) - self.start) // SLOT
            hi = (datetime.fromisoformat(item["end"]) - self.start) // SLOT
            out[lo:hi] = item["value"]  # TOU periods change on quarter-hours
        return out

    @functools.cached_property
    def street_kw(self) -> Array:
        """Feeder load without EVs: common load + every home's household load - PV."""
        load: Array = self.common_kw + (self.base_kw - self.pv_kw).sum(axis=0)
        return load


def generate(
    region: Region | str,
    homes: int,
    days: int,
    seed: int,
    *,
    ev_share: float | None = None,
    rating_kw: float | None = None,
) -> Fleet:
    """A street of `homes` homes in `region` over `days` nights, from real distributions."""
    reg = REGIONS[region] if isinstance(region, str) else region
    if homes < 1 or days < 1:
        raise FleetError("homes and days must be at least 1")
    share = reg.ev_share if ev_share is None else ev_share
    if not 0.0 <= share <= 1.0:
        raise FleetError("ev_share must be between 0 and 1")
    tariff = load_preset(reg.tariff)
    start = _noon(reg.first_day, tariff.zone)
    _check_no_dst(start, days)
    drawn = [_home(reg, h, days, seed, start) for h in range(homes)]
    n_slots = days * SLOTS_PER_DAY
    return Fleet(
        tariff=tariff,
        start=start,
        days=days,
        rating_kw=rating_kw if rating_kw is not None else reg.kva_per_home * homes,
        homes=tuple(d.home for d in drawn),
        base_kw=np.array([d.base_kw for d in drawn]),
        pv_kw=np.array([d.pv_kw for d in drawn]),
        common_kw=np.full(n_slots, reg.common_kw_per_home * homes),
        all_sessions=tuple(s for d in drawn for s in d.sessions),
        ev_count=round(share * homes),
        history_kw=np.full(WEEK_SLOTS, reg.common_kw_per_home * homes)
        + np.sum([d.history_kw for d in drawn], axis=0),
    )


@dataclass(frozen=True, slots=True)
class _Drawn:
    home: Home
    base_kw: Array
    pv_kw: Array
    sessions: list[Session]
    history_kw: Array  # household load - PV over the week before the study


def _noon(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(12), tzinfo=zone)


def _check_no_dst(start: datetime, days: int) -> None:
    end = start + days * timedelta(days=1)
    if start.utcoffset() != end.utcoffset():
        raise FleetError("the study period must not cross a DST change (96 slots a day)")


def _home(reg: Region, h: int, days: int, seed: int, start: datetime) -> _Drawn:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(h,)))
    names = [name for name, _ in reg.charger_shares]
    weights = np.array([w for _, w in reg.charger_shares])
    charger = CHARGERS[names[rng.choice(len(names), p=weights / weights.sum())]]
    car = Car(
        battery_kwh=rng.uniform(40, 100),
        efficiency=rng.uniform(0.88, 0.94),
        kwh_per_km=rng.uniform(*reg.kwh_per_km),
    )
    ev_draw = rng.random()
    has_pv = rng.random() < reg.pv_share
    kwp = rng.uniform(*reg.pv_kwp)
    home = Home(car=car, charger=charger, ev_draw=ev_draw, pv_kwp=kwp if has_pv else 0.0)
    # Days driven since the last session before the study (none when it plugs in nightly).
    driven_kwh = car.kwh_per_km * sum(
        _km(reg, rng) for _ in range(int(rng.geometric(reg.plug_in_probability)) - 1)
    )
    sessions = []
    for night in range(days):
        driven_kwh += car.kwh_per_km * _km(reg, rng)
        session = _session(reg, home, h, night, rng, start, driven_kwh)
        if session is not None:
            sessions.append(session)
            driven_kwh = 0.0  # back to what it was; any part a cap cut is charged elsewhere
    n_slots = days * SLOTS_PER_DAY
    base, before = _household(reg, rng, start, n_slots)
    # Drawn last, so that every draw above is what it was before homes could be silent.
    home = replace(home, respond_draw=rng.random())
    week_before = start - timedelta(days=7)
    return _Drawn(
        home=home,
        base_kw=base,
        pv_kw=home.pv_kwp * _pv_shape(start, n_slots),
        sessions=sessions,
        history_kw=before - home.pv_kwp * _pv_shape(week_before, WEEK_SLOTS),
    )


def _km(reg: Region, rng: np.random.Generator) -> float:
    """One day's distance: lognormal with the region's mean and sigma."""
    mu = math.log(reg.km_per_day) - reg.km_sigma**2 / 2
    return float(rng.lognormal(mu, reg.km_sigma))


def _household(
    reg: Region, rng: np.random.Generator, start: datetime, n_slots: int
) -> tuple[Array, Array]:
    """The household load over the study, and over the week before it (the same profile),
    scaled so that the profile's mean over the `SCALE_DAYS` days from the study's first
    slot is the region's study-month mean x the home's factor (of mean 1)."""
    profiles = household_profiles()
    column = int(rng.integers(profiles.shape[1]))
    weeks, slots = int(rng.integers(-4, 5)), int(rng.integers(-2, 3))
    factor = rng.lognormal(-(LOAD_SIGMA**2) / 2, LOAD_SIGMA)
    first = _day_of_year(start) * SLOTS_PER_DAY + NOON_SLOT + weeks * 7 * SLOTS_PER_DAY + slots
    profile = profiles[:, column]
    # The 28 days centred on the study (as this home reads its profile).
    around = first + n_slots // 2 + np.arange(SCALE_DAYS * SLOTS_PER_DAY) - SCALE_DAYS * 48
    month = profile[around % profiles.shape[0]]
    scale: float = reg.base_mean_kw / float(month.mean()) * factor
    rows = (first + np.arange(-WEEK_SLOTS, n_slots)) % profiles.shape[0]
    household: Array = profile[rows] * scale
    return household[WEEK_SLOTS:], household[:WEEK_SLOTS]


def _pv_shape(start: datetime, n_slots: int) -> Array:
    factors = pv_capacity_factors()
    first_hour = _day_of_year(start) * 24 + 12
    hours = (first_hour + np.arange(n_slots) // 4) % factors.shape[0]
    shape: Array = factors[hours]
    return shape


def _day_of_year(moment: datetime) -> int:
    return (moment.timetuple().tm_yday - 1) % 365


def _session(
    reg: Region,
    home: Home,
    h: int,
    night: int,
    rng: np.random.Generator,
    start: datetime,
    driven_kwh: float,
) -> Session | None:
    """Night `night`'s session, if the car plugs in; it brings back `driven_kwh`."""
    data = elaadnl()
    day = (start + timedelta(days=night)).date()
    shape = data.arrival_weekend if day.weekday() >= 5 else data.arrival_weekday
    plugs_in = rng.random() < reg.plug_in_probability
    arrival_bin = int(rng.choice(SLOTS_PER_DAY, p=_cut(shape, reg.arrival_hours)))
    stay = data.mean_session_hours[arrival_bin // 2] * max(0.2, rng.normal(1.0, 0.2))
    delay = rng.uniform(0.0, MAX_TIMER_DELAY_S)
    if not plugs_in or driven_kwh <= 0:
        return None
    base = night * SLOTS_PER_DAY - NOON_SLOT
    arrival = base + arrival_bin
    departure = base + _leave_bin(arrival_bin, stay)
    return Session(
        home=h,
        night=night,
        arrival=arrival,
        departure=departure,
        need_kwh=_reachable(home, driven_kwh, departure - arrival),
        timer_delay_s=delay,
    )


def _leave_bin(arrival_bin: int, stay_hours: float) -> int:
    """The 15-minute bin (from the arrival day's 00:00) a car plugged in at `arrival_bin`
    for `stay_hours` leaves in, within the next morning's departure hours."""
    hour = min(max(arrival_bin / 4 + stay_hours, 24 + DEPARTURE_HOURS[0]), 24 + DEPARTURE_HOURS[1])
    return math.ceil(hour * 4)


@dataclass(frozen=True, slots=True)
class ArrivalPrior:
    """What an aggregator knows of a region's arrivals before it sees a car (the public
    ElaadNL distributions the study draws from): per night slot from 12:00, the chance a
    car arrives then (weekday and weekend averaged) and when such a car typically leaves
    (ElaadNL's mean stay for that arrival), and the chance it plugs in on a night."""

    chance: tuple[float, ...]  # 96, sums to 1
    leaves: tuple[int, ...]  # 96: the night slot a car arriving in each slot leaves in
    plug_in: float

    def __post_init__(self) -> None:
        if len(self.chance) != SLOTS_PER_DAY or len(self.leaves) != SLOTS_PER_DAY:
            raise FleetError(f"arrival prior: chance and leaves need {SLOTS_PER_DAY} slots each")
        if min(self.chance) < 0 or abs(sum(self.chance) - 1.0) > 1e-6:
            raise FleetError("arrival prior: chance must be at least 0 and sum to 1")
        if any(
            c > 0 and not k < leave <= SLOTS_PER_DAY
            for k, (c, leave) in enumerate(zip(self.chance, self.leaves, strict=True))
        ):
            raise FleetError("arrival prior: a car leaves after the slot it arrives in, by noon")
        if not 0.0 <= self.plug_in <= 1.0:
            raise FleetError("arrival prior: plug_in must be between 0 and 1")


def arrival_prior(region: str) -> ArrivalPrior:
    reg = REGIONS[region]
    data = elaadnl()
    shape = _cut((data.arrival_weekday + data.arrival_weekend) / 2, reg.arrival_hours)
    bins = np.arange(SLOTS_PER_DAY) + NOON_SLOT  # night slot k is bin 48 + k
    chance = np.where(bins < SLOTS_PER_DAY, shape[bins % SLOTS_PER_DAY], 0.0)
    leaves = [
        _leave_bin(int(b), float(data.mean_session_hours[(b % SLOTS_PER_DAY) // 2])) - NOON_SLOT
        for b in bins
    ]
    return ArrivalPrior(tuple(chance / chance.sum()), tuple(leaves), reg.plug_in_probability)


def _cut(shape: Array, hours: tuple[float, float]) -> Array:
    """The arrival distribution restricted to [from, to) local hours, renormalised."""
    kept = np.zeros_like(shape)
    lo, hi = round(hours[0] * 4), round(hours[1] * 4)
    kept[lo:hi] = shape[lo:hi]
    cut: Array = kept / kept.sum()
    return cut


def _reachable(home: Home, need: float, slots: int) -> float:
    reach = home.charger.max_kw * home.car.efficiency * slots * HOURS_PER_SLOT
    return min(need, NEED_SHARE_OF_BATTERY * home.car.battery_kwh, NEED_SHARE_OF_REACH * reach)


# --- a data-free street for tests -------------------------------------------


@dataclass(frozen=True, slots=True)
class HandSetCar:
    """One EV home of a hand-set street: plugs in at `arrival`, leaves next day at `departure`."""

    arrival: str = "18:00"
    departure: str = "07:00"
    need_kwh: float = 13.32
    charger: str = "1ph-7.4"
    battery_kwh: float = 60.0
    efficiency: float = 0.9
    timer_delay_s: float = 0.0
    responds: bool = True  # False: never answers the aggregator (charges by its local default)


def hand_set_fleet(
    cars: Sequence[HandSetCar],
    *,
    base_kw: float = 1.0,
    rating_kw: float = 20.0,
    days: int = 1,
    tariff: str = "shanghai_residential_tou",
    first_day: date = date(2026, 11, 30),
) -> Fleet:
    """A small deterministic street: one home per car, constant household load, no PV."""
    preset = load_preset(tariff)
    start = _noon(first_day, preset.zone)
    _check_no_dst(start, days)
    n_slots = days * SLOTS_PER_DAY
    homes = tuple(
        Home(
            Car(c.battery_kwh, c.efficiency),
            CHARGERS[c.charger],
            ev_draw=i / len(cars),
            pv_kwp=0,
            respond_draw=1.0 if c.responds else -1.0,
        )
        for i, c in enumerate(cars)
    )
    sessions = tuple(
        Session(
            home=h,
            night=night,
            arrival=night * SLOTS_PER_DAY + _slot_of(c.arrival, next_day=False),
            departure=night * SLOTS_PER_DAY + _slot_of(c.departure, next_day=True),
            need_kwh=c.need_kwh,
            timer_delay_s=c.timer_delay_s,
        )
        for night in range(days)
        for h, c in enumerate(cars)
    )
    return Fleet(
        tariff=preset,
        start=start,
        days=days,
        rating_kw=rating_kw,
        homes=homes,
        base_kw=np.full((len(cars), n_slots), base_kw),
        pv_kw=np.zeros((len(cars), n_slots)),
        common_kw=np.zeros(n_slots),
        all_sessions=sessions,
        ev_count=len(cars),
        history_kw=np.full(WEEK_SLOTS, base_kw * len(cars)),
    )


def _slot_of(hhmm: str, *, next_day: bool) -> int:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    slot = (hours * 60 + minutes) // 15 + (SLOTS_PER_DAY if next_day else 0)
    if not NOON_SLOT <= slot < NOON_SLOT + SLOTS_PER_DAY:
        raise FleetError(f"{hhmm}: arrivals are 12:00-23:59, departures 00:00-11:59")
    return slot - NOON_SLOT
