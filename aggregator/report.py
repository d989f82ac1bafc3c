"""The study's files: metrics.csv, metrics.md, feeder.png, heatmap.png, and a summary."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from aggregator.metrics import Metrics, feeder_kw
from aggregator.population import HOURS_PER_SLOT
from aggregator.regions import REGIONS
from aggregator.sources import SLOTS_PER_DAY
from aggregator.study import Study

LABELS: dict[str, str] = {
    "peak_kw": "feeder peak (kW)",
    "peak_time": "time of the peak",
    "worst_loading_pct": "worst transformer loading (%)",
    "hours_overloaded": "hours above 100%",
    "evening_peak_kw": "evening peak, 16:00 to cheap start (kW)",
    "rebound_peak_kw": "rebound peak, first hour of cheap period (kW)",
    "ev_energy_kwh": "EV energy from the grid (kWh)",
    "off_peak_share": "share of EV energy off-peak",
    "share_00_04": "share of EV energy 00:00-04:00",
    "not_delivered_kwh": "energy not delivered by departure (kWh)",
    "sessions_short": "sessions short of their need",
    "cost_mean": "EV cost per EV home, mean",
    "cost_median": "EV cost per EV home, median",
    "cost_p90": "EV cost per EV home, p90",
    "cost_total": "EV cost, all homes",
    "coordination_cost_mean": "cost of coordination per home, mean",
    "coordination_cost_max": "cost of coordination per home, max",
    "peak_gap_pct": "peak above the joint optimum (%)",
    "hot_spot_max_c": "hottest winding hot spot, IEC 60076-7 (°C)",
    "loss_of_life_h": "transformer life used, IEC 60076-7 (h)",
    "hosting_evs": "hosting capacity (EV homes, thermal limit and every departure met)",
}


def write_outputs(study: Study, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "metrics.csv", out / "metrics.md", out / "feeder.png", out / "heatmap.png"]
    _write_csv(study, paths[0])
    paths[1].write_text(markdown(study), encoding="utf-8")
    draw_feeder(study, paths[2])
    draw_heatmap(study, paths[3])
    return paths


def _columns(study: Study) -> list[str]:
    return Metrics.columns() + (["hosting_evs"] if study.hosting else [])


def _values(study: Study, m: Metrics) -> list[Any]:
    return m.row() + ([study.hosting.get(m.strategy)] if study.hosting else [])


def _write_csv(study: Study, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_columns(study))
        for m in study.metrics:
            writer.writerow(["" if v is None else v for v in _values(study, m)])


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if "share" in column:
            return f"{100 * value:.0f}%"
        digits = 2 if column.startswith(("cost", "coordination")) else 1
        return f"{round(value, digits) + 0.0:,.{digits}f}"  # + 0.0: no "-0.00"
    return str(value)


def header(study: Study) -> str:
    o, f = study.options, study.fleet
    region = REGIONS[o.region]
    return (
        f"{region.title}: {f.n_homes} homes, {len(f.owners)} with an EV, "
        f"{len(f.sessions)} sessions over {f.days} nights from {f.start:%Y-%m-%d %H:%M %Z}, "
        f"transformer {f.rating_kw:,.0f} kW, seed {o.seed}; costs in {f.tariff.currency}"
    )


def markdown(study: Study) -> str:
    names = [m.strategy for m in study.metrics]
    lines = [
        header(study),
        "",
        "| metric | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    rows = [_values(study, m) for m in study.metrics]
    for index, column in enumerate(_columns(study)[1:], start=1):
        cells = [_cell(row[index], column) for row in rows]
        lines.append(f"| {LABELS[column]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summary(study: Study) -> str:
    lines = [header(study)]
    for m in study.metrics:
        hosted = f", hosts {study.hosting[m.strategy]} EVs" if m.strategy in study.hosting else ""
        lines.append(
            f"  {m.strategy:<19} peak {m.peak_kw:8,.1f} kW ({m.worst_loading_pct:5.1f}%) "
            f"at {m.peak_time[5:]}, {m.hours_overloaded:5.2f} h over, rebound "
            f"{m.rebound_peak_kw:8,.1f} kW, 00-04h {100 * m.share_00_04:3.0f}%, "
            f"not delivered {m.not_delivered_kwh:6.1f} kWh, cost/home {m.cost_mean:6.2f}{hosted}"
        )
    return "\n".join(lines)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_feeder(study: Study, path: Path) -> None:
    """Every strategy's feeder load against the rating: the whole study and its worst night."""
    plt = _pyplot()
    fleet = study.fleet
    times = [fleet.slot_time(t) for t in range(fleet.n_slots)]
    loads = {name: feeder_kw(fleet, ev) for name, ev in study.ev.items()}
    worst = int(np.argmax(np.max(list(loads.values()), axis=0))) // SLOTS_PER_DAY
    night = slice(worst * SLOTS_PER_DAY, (worst + 1) * SLOTS_PER_DAY)
    fig, (whole, zoom) = plt.subplots(2, 1, figsize=(12, 8), layout="constrained")
    for ax, window in ((whole, slice(None)), (zoom, night)):
        ax.plot(times[window], fleet.street_kw[window], color="0.6", lw=1, label="street, no EVs")
        for name, load in loads.items():
            ax.plot(times[window], load[window], lw=1.2, label=name)
        ax.axhline(fleet.rating_kw, color="black", ls="--", lw=1, label="transformer rating")
        ax.set_ylabel("feeder load (kW)")
        ax.grid(alpha=0.3)
    whole.set_title(textwrap.fill(header(study), 140), fontsize=9)
    zoom.set_title(f"night {worst + 1} ({times[night][0]:%a %d %b}), local time", fontsize=9)
    import matplotlib.dates as mdates

    zoom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=fleet.start.tzinfo))
    whole.xaxis.set_major_formatter(mdates.DateFormatter("%a %d", tz=fleet.start.tzinfo))
    whole.legend(fontsize=8, ncol=4, loc="upper left")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def hourly_ev_kw(study: Study) -> dict[str, Any]:
    """Each strategy's mean fleet EV power by local hour of day (24 values, kW)."""
    fleet = study.fleet
    hours = (12 + np.arange(fleet.n_slots) // 4) % 24  # slot 0 is 12:00
    out = {}
    for name, ev in study.ev.items():
        energy = ev.sum(axis=0) * HOURS_PER_SLOT
        out[name] = np.bincount(hours, weights=energy, minlength=24) / fleet.days
    return out


def draw_heatmap(study: Study, path: Path) -> None:
    plt = _pyplot()
    hourly = hourly_ev_kw(study)
    grid = np.array(list(hourly.values()))
    fig, ax = plt.subplots(figsize=(12, 3.6), layout="constrained")
    image = ax.imshow(grid, aspect="auto", cmap="magma_r")
    ax.set_yticks(range(len(hourly)), list(hourly))
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    ax.set_xlabel("local hour of day")
    ax.set_title(
        "EV charging by hour of day, mean kWh per hour (= mean kW) over the nights", fontsize=9
    )
    fig.colorbar(image, ax=ax, label="fleet EV kW")
    fig.savefig(path, dpi=110)
    plt.close(fig)


SPREAD = ("peak_kw", "peak_gap_pct", "worst_loading_pct", "hot_spot_max_c", "not_delivered_kwh")


def spread(directories: list[Path]) -> str:
    """min / median / max over several studies' metrics.csv (e.g. seeds 1-5) of each
    strategy's peak, gap to the joint optimum, worst loading, hottest hot spot and energy
    not delivered: a markdown table."""
    runs: dict[str, dict[str, list[float]]] = {}
    for directory in directories:
        with (directory / "metrics.csv").open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                mine = runs.setdefault(row["strategy"], {c: [] for c in SPREAD})
                for column in SPREAD:
                    if row.get(column):
                        mine[column].append(float(row[column]))
    lines = [
        f"min / median / max over {len(directories)} studies: "
        + ", ".join(d.name for d in directories),
        "",
        "| strategy | " + " | ".join(LABELS[c] for c in SPREAD) + " |",
        "|---|" + "---:|" * len(SPREAD),
    ]
    for name, columns in runs.items():
        cells = []
        for column in SPREAD:
            values = columns[column]
            if not values:
                cells.append("-")
                continue
            low, mid, high = min(values), float(np.median(values)), max(values)
            cells.append(" / ".join(f"{round(v, 1) + 0.0:,.1f}" for v in (low, mid, high)))
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
