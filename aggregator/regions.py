"""The two streets of the study, as documented assumptions (see docs/fleet-study.md).

`cn`: a Shanghai residential compound on the Shanghai residential TOU tariff
(valley 22:00-06:00). A 10/0.4 kV compound transformer of 630 kVA commonly
serves some 200-300 flats; we take 630 kVA per 250 homes (2.52 kVA a home).
Drivers plug in every evening; a car drives 40 km a day on average (lognormal,
sigma 0.6) at 0.12-0.17 kWh/km into the battery (a Chinese compact EV in
winter): about 5.8 kWh a night. Few roofs of their own: PV on 5% of homes. The
lifts, pumps and lighting of the compound add 0.1 kW a home, all day.

`us`: a Southern California street on SCE TOU-EV-8 in summer (off-peak from
21:00). A 50 kVA pole-top transformer serves about 10 homes; the street is that
ratio scaled up (5 kVA a home), so diversity is that of the whole street, which
flatters a single pole-top. A car drives 50 km a day on average (lognormal,
sigma 0.6) at 0.14-0.24 kWh/km into the battery (US cars, SUVs and pickups in
summer heat) and plugs in on half of the nights, each session bringing back
what was driven since the last: about 9 kWh a day. PV on 20% of roofs. No
common load.

Both: arrivals follow ElaadNL's home-charging shape (Dutch, weekday or weekend)
over the whole afternoon and evening (12:00-24:00), not cut to a window.

Both: kVA is taken as kW (power factor 1). Household load profiles (Pecan
Street, Texas) are scaled so that the study month's mean is 0.35 kW a home (cn,
December, ~260 kWh a month) or 1.2 kW (us, July, ~890 kWh a month): each
profile by its own mean over the 28 days it is read from, so Texas's seasons
(a December mean 0.65 times the year's, a July mean 1.6 times) do not leak into
the regions'. The study weeks start on a Monday in a month without a DST change.
Every number's source: `aggregator.sources.REGION_SOURCES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class ChargerType:
    name: str
    min_kw: float  # IEC 61851's 6 A: 0 or between min and max
    max_kw: float


CHARGERS: dict[str, ChargerType] = {
    "1ph-7.4": ChargerType("1ph-7.4", min_kw=1.4, max_kw=7.4),
    "3ph-11": ChargerType("3ph-11", min_kw=4.1, max_kw=11.0),
    "1ph-3.7": ChargerType("1ph-3.7", min_kw=1.4, max_kw=3.7),
}


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    title: str
    tariff: str  # a preset of optimizer.tariffs
    first_day: date  # the first arrival day, a Monday
    kva_per_home: float  # transformer rating per home on the feeder
    ev_share: float  # share of homes with an EV (default; --ev-share overrides)
    charger_shares: tuple[tuple[str, float], ...]
    arrival_hours: tuple[float, float]  # local hours into which ElaadNL's arrival shape is cut
    km_per_day: float  # mean distance a car drives a day
    km_sigma: float  # the daily distance is lognormal with this sigma (of its log)
    kwh_per_km: tuple[float, float]  # into the battery, each car's drawn uniformly
    plug_in_probability: float  # chance that an EV plugs in on a given night
    base_mean_kw: float  # the study month's mean household load, a home
    common_kw_per_home: float  # non-household load on the feeder
    pv_share: float
    pv_kwp: tuple[float, float] = (3.0, 8.0)
    # The study month's mean daily low and high (°C), for the transformer's thermal model.
    ambient_c: tuple[float, float] = (20.0, 20.0)


REGIONS: dict[str, Region] = {
    "cn": Region(
        name="cn",
        title="Shanghai residential compound, Shanghai residential TOU",
        tariff="shanghai_residential_tou",
        first_day=date(2026, 11, 30),
        kva_per_home=630 / 250,
        ev_share=0.3,
        charger_shares=(("1ph-7.4", 0.80), ("1ph-3.7", 0.15), ("3ph-11", 0.05)),
        arrival_hours=(12.0, 24.0),
        km_per_day=40.0,
        km_sigma=0.6,
        kwh_per_km=(0.12, 0.17),
        plug_in_probability=1.0,
        base_mean_kw=0.35,
        common_kw_per_home=0.1,
        pv_share=0.05,
        # Shanghai in December: mean daily low about 4 °C, high about 11 °C (China
        # Meteorological Administration 1991-2020 normals, Xujiahui station).
        ambient_c=(4.0, 11.0),
    ),
    "us": Region(
        name="us",
        title="Southern California street, SCE TOU-EV-8 (summer)",
        tariff="sce_tou_ev_8",
        first_day=date(2026, 7, 6),
        kva_per_home=50 / 10,
        ev_share=0.3,
        charger_shares=(("1ph-7.4", 0.60), ("3ph-11", 0.25), ("1ph-3.7", 0.15)),
        arrival_hours=(12.0, 24.0),
        km_per_day=50.0,
        km_sigma=0.6,
        kwh_per_km=(0.14, 0.24),
        plug_in_probability=0.5,
        base_mean_kw=1.2,
        common_kw_per_home=0.0,
        pv_share=0.2,
        # Inland Southern California in July: mean daily low about 17 °C, high about 35 °C
        # (NOAA 1991-2020 normals, Riverside).
        ambient_c=(17.0, 35.0),
    ),
}
