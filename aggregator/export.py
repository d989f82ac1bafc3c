"""`--export DIR`: the study's instance and results as plain CSV and JSON, so that anyone
can recompute every metric without this code (the format: docs/fleet-export.md).

- `instance.json`: the street (region, homes, nights, the rating, the slot length, the
  start), the options, the strategies, the files and their columns with units.
- `sessions.csv`: one row per EV session: home, night, arrival and departure (slot
  index and local ISO time), the energy need into the battery, the car's charging
  efficiency and battery, the charger's minimum and maximum power, whether the home
  responds to the aggregator.
- `homes.csv`: one row per home and slot: the household load, the PV output, and each
  strategy's EV power (kW, mean over the 15-minute slot).
- `street.csv`: one row per slot: its local start, the feeder's common load (not a
  home's), the import and export prices, the rating, the ambient temperature.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aggregator.population import HOURS_PER_SLOT
from aggregator.study import Study
from aggregator.thermal import ONAN

FORMAT = "evflex-fleet-export/1"
DIGITS = 6  # kW and kWh are written with 6 decimals (1 mW): sums agree to well below 1 W

SESSION_COLUMNS = {
    "home": "home number, 0..homes-1",
    "night": "night number, 0..nights-1 (night n starts at local 12:00 of day n)",
    "arrival_slot": "first slot plugged in",
    "departure_slot": "first slot unplugged (the window is arrival_slot..departure_slot-1)",
    "arrival": "local time the car plugs in (ISO 8601)",
    "departure": "local time the car leaves (ISO 8601)",
    "need_kwh": "energy into the battery by departure (kWh)",
    "efficiency": "share of the grid energy that reaches the battery",
    "battery_kwh": "the car's usable battery (kWh)",
    "charger_min_kw": "the charger's least power when on (kW); 0 or between min and max",
    "charger_max_kw": "the charger's greatest power (kW)",
    "responds": "1 if the home follows the aggregator, 0 if it charges by its local default",
}
HOME_COLUMNS = {
    "slot": "slot index (15 minutes each, slot 0 starts at `start`)",
    "home": "home number",
    "load_kw": "household load without the EV (kW)",
    "pv_kw": "PV output (kW)",
}
STREET_COLUMNS = {
    "slot": "slot index",
    "start": "local start of the slot (ISO 8601)",
    "common_kw": "feeder load that is not a home's: lifts, pumps, lighting (kW)",
    "import_price": "import price (currency per kWh)",
    "export_price": "export price (currency per kWh)",
    "rating_kw": "the transformer's rating (kW; kVA at power factor 1)",
    "ambient_c": "ambient temperature at the transformer (°C; empty if none)",
}


def export(study: Study, out: Path) -> list[Path]:
    """Write the four files into `out` (created if need be); return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / n for n in ("instance.json", "sessions.csv", "homes.csv", "street.csv")]
    paths[0].write_text(json.dumps(_instance(study), indent=2) + "\n", encoding="utf-8")
    _sessions(study, paths[1])
    _homes(study, paths[2])
    _street(study, paths[3])
    return paths


def _instance(study: Study) -> dict[str, Any]:
    o, f = study.options, study.fleet
    names = list(study.ev)
    return {
        "format": FORMAT,
        "region": o.region,
        "seed": o.seed,
        "homes": f.n_homes,
        "ev_homes": len(f.owners),
        "nights": f.days,
        "slots": f.n_slots,
        "slot_hours": HOURS_PER_SLOT,
        "start": f.start.isoformat(),
        "time_zone": str(f.start.tzinfo),
        "currency": f.tariff.currency,
        "rating_kw": f.rating_kw,
        "options": {
            "forecast": o.forecast,
            "margin_share": o.margin_share,
            "non_response": o.non_response,
            "arrivals": o.arrivals,
            "needs": o.needs,
            "feedback": o.feedback,
            "decay": o.decay,
            "latency_min": o.latency_min,
            "expect_arrivals": o.expect_arrivals,
        },
        "strategies": names,
        "files": {
            "sessions.csv": SESSION_COLUMNS,
            "homes.csv": HOME_COLUMNS
            | {f"ev_kw_{n}": f"EV power under strategy {n} (kW)" for n in names},
            "street.csv": STREET_COLUMNS,
        },
        "feeder_kw": "per slot: common_kw + sum over homes of (load_kw - pv_kw + ev_kw_<strategy>)",
        "thermal_model": {
            "method": "IEC 60076-7 difference equations, 1-minute steps, load held per slot",
            "start": "the periodic state of the first day (its 24 h run 3 times first)",
            **asdict(ONAN),
            "ageing": "V = 2^((hot_spot - 98) / 6); life used (h) = sum of V x 0.25 h",
        },
    }


def _sessions(study: Study, path: Path) -> None:
    f = study.fleet
    silent = f.silent(study.options.non_response)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SESSION_COLUMNS)
        for s in f.sessions:
            home = f.homes[s.home]
            writer.writerow(
                [
                    s.home,
                    s.night,
                    s.arrival,
                    s.departure,
                    f.slot_time(s.arrival).isoformat(),
                    f.slot_time(s.departure).isoformat(),
                    _num(s.need_kwh),
                    home.car.efficiency,
                    home.car.battery_kwh,
                    home.charger.min_kw,
                    home.charger.max_kw,
                    0 if s.home in silent else 1,
                ]
            )


def _homes(study: Study, path: Path) -> None:
    f = study.fleet
    names = list(study.ev)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*HOME_COLUMNS, *(f"ev_kw_{n}" for n in names)])
        for t in range(f.n_slots):
            for h in range(f.n_homes):
                evs = (_num(study.ev[n][h, t]) for n in names)
                writer.writerow([t, h, _num(f.base_kw[h, t]), _num(f.pv_kw[h, t]), *evs])


def _street(study: Study, path: Path) -> None:
    f = study.fleet
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(STREET_COLUMNS)
        for t in range(f.n_slots):
            writer.writerow(
                [
                    t,
                    f.slot_time(t).isoformat(),
                    _num(f.common_kw[t]),
                    f.import_price[t],
                    f.export_price[t],
                    f.rating_kw,
                    "" if study.ambient_c is None else _num(study.ambient_c[t]),
                ]
            )


def _num(value: float) -> str:
    text = f"{float(value):.{DIGITS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
