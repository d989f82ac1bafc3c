"""A plan in a few lines a person can read: when it charges, at what price, from what."""

from __future__ import annotations

from typing import Any


def charging_windows(slots: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Runs of consecutive slots that charge."""
    windows: list[list[dict[str, Any]]] = []
    for slot in slots:
        if slot["ev_kw"] <= 0:
            continue
        if windows and windows[-1][-1]["end"] == slot["start"]:
            windows[-1].append(slot)
        else:
            windows.append([slot])
    return windows


def explain(request: dict[str, Any], response: dict[str, Any]) -> str:
    veh, summary = request["vehicle"], response["summary"]
    currency = summary.get("currency") or ""
    hours = request.get("slot_minutes", 15) / 60
    departure = veh["departure"][:16].replace("T", " ") if "departure" in veh else "the horizon"
    lines = [
        f"Car: {veh['soc_pct']}% -> {veh['target_soc_pct']}% of {veh['battery_kwh']} kWh"
        f" by {departure}",
        f"Plan ({response['status']}): {summary['energy_kwh']:.1f} kWh,"
        f" site cost {summary['cost']:.2f} {currency},"
        f" SoC at departure {summary['soc_at_departure_pct']:.0f}%",
    ]
    for window in charging_windows(response["slots"]):
        kw = sum(s["ev_kw"] for s in window)
        solar = sum(min(s["ev_kw"], s["pv_kw"]) for s in window) / kw
        prices = sorted({s["import_price"] for s in window})
        lines.append(
            f"  charge {window[0]['start'][11:16]}-{window[-1]['end'][11:16]}:"
            f" {kw * hours:5.1f} kWh at {prices[0]:.3f}-{prices[-1]:.3f} {currency}/kWh,"
            f" {100 * solar:3.0f}% solar"
        )
    if summary["binding"]:
        lines.append("Limits that shaped it: " + ", ".join(summary["binding"]))
    lines.append(f"Solved by {summary['solver']} in {summary['solve_ms']:.0f} ms")
    return "\n".join(lines)
