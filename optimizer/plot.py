"""Draw a plan: prices, PV, base load and EV power over time, and the state of charge."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any


def draw(request: dict[str, Any], response: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    slots = response["slots"]
    starts = [datetime.fromisoformat(s["start"]) for s in slots]
    edges = [*starts, datetime.fromisoformat(slots[-1]["end"])]

    def steps(key: str) -> list[float]:
        values = [float(s[key]) for s in slots]
        return [*values, values[-1]]

    fig, (power_ax, soc_ax) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, height_ratios=[3, 1.4], layout="constrained"
    )
    power_ax.fill_between(
        edges, steps("pv_kw"), step="post", color="#f6c344", alpha=0.45, label="PV"
    )
    power_ax.step(edges, steps("base_load_kw"), where="post", color="#6b7a8f", label="base load")
    power_ax.fill_between(
        edges, steps("ev_kw"), step="post", color="#2a9d8f", alpha=0.8, label="EV"
    )
    power_ax.step(
        edges, steps("grid_kw"), where="post", color="#264653", lw=0.8, ls="--", label="grid"
    )
    power_ax.set_ylabel("kW")
    price_ax = power_ax.twinx()
    currency = response["summary"].get("currency") or request.get("currency", "")
    price_ax.step(edges, steps("import_price"), where="post", color="#e76f51", label="import price")
    price_ax.set_ylabel(f"{currency}/kWh".strip("/"))
    lines = power_ax.get_legend_handles_labels()
    extra = price_ax.get_legend_handles_labels()
    power_ax.legend(lines[0] + extra[0], lines[1] + extra[1], loc="upper left", ncols=5, fontsize=8)
    summary = response["summary"]
    power_ax.set_title(
        f"{response['status']}: {summary['energy_kwh']:.1f} kWh,"
        f" cost {summary['cost']:.2f} {currency},"
        f" SoC at departure {summary['soc_at_departure_pct']:.0f}%"
    )

    soc = [request["vehicle"]["soc_pct"]] + [s["soc_pct"] for s in slots]
    soc_ax.plot(edges, soc, color="#2a9d8f")
    soc_ax.axhline(request["vehicle"]["target_soc_pct"], color="#999", ls=":", lw=1)
    soc_ax.set_ylabel("SoC %")
    soc_ax.set_ylim(0, 100)
    soc_ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %H:%M", tz=starts[0].tzinfo))
    fig.savefig(path, dpi=110)
    plt.close(fig)
