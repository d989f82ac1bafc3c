"""The two streets of the study, as documented assumptions (see docs/fleet-study.md).

`cn`: a Shanghai residential compound on the Shanghai residential TOU tariff
(valley 22:00-06:00). A 10/0.4 kV compound transformer of 630 kVA commonly
serves some 200-300 flats; we take 630 kVA per 250 homes (2.52 kVA a home).
Drivers come home between 18:00 and 20:00 and need 8-15 kWh a day (a 30-60 km
commute), every day. Few roofs of their own: PV on 5% of homes. The lifts,
pumps and lighting of the compound add 0.1 kW a home, all day.

`us`: a Southern California street on SCE TOU-EV-8 in summer (off-peak from
21:00). A 50 kVA pole-top transformer serves about 10 homes; the street is that
ratio scaled up (5 kVA a home), so diversity is that of the whole street, which
flatters a single pole-top. Arrivals follow ElaadNL's home-charging shape from
14:00; each session's energy is drawn from ElaadNL's home-session distribution
and a car plugs in on half of the nights (mean ~12 kWh a day, about the US
average daily drive). PV on 20% of roofs. No common load.

Both: kVA is taken as kW (power factor 1). Household load profiles (Pecan
Street, Texas) are scaled to a mean of 0.35 kW (cn, ~3,000 kWh a year) or
1.2 kW (us, ~10,500 kWh a year). The study weeks start on a Monday in a month
without a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal


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
    energy_model: Literal["elaadnl", "commute"]
    commute_kwh: tuple[float, float]  # daily need range for the "commute" model
    plug_in_probability: float  # chance that an EV plugs in on a given night
    base_mean_kw: float  # mean household load a profile is scaled to
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
        arrival_hours=(18.0, 20.0),
        energy_model="commute",
        commute_kwh=(8.0, 15.0),
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
        arrival_hours=(14.0, 24.0),
        energy_model="elaadnl",
        commute_kwh=(0.0, 0.0),
        plug_in_probability=0.5,
        base_mean_kw=1.2,
        common_kw_per_home=0.0,
        pv_share=0.2,
        # Inland Southern California in July: mean daily low about 17 °C, high about 35 °C
        # (NOAA 1991-2020 normals, Riverside).
        ambient_c=(17.0, 35.0),
    ),
}
