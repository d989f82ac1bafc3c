"""Measurement and verification, and the day-ahead flexibility forecast.

- `measure`: when an event ends (or is cancelled), what it delivered against its
  baseline (the plan EVFlex would have run without it, frozen when it was accepted):
  the planned delivery (baseline minus the kept plan's EV energy in the window) and
  the metered one (baseline minus the energy the charger really drew in the window,
  per quarter hour).
- `openadr_report`: the event log as OpenADR 3-style report payloads, one interval per
  quarter hour: BASELINE, USAGE (metered) and DELTA_USAGE (baseline - usage), kWh.
- `forecast`: hour by hour for the next 24 h, the kW the home could shed (what the
  plan draws) and absorb (the charger's room above the plan) while the car is
  plugged in (the plan starts at plan-v1 `vehicle.arrival` when made ahead).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .book import Record

SLOT_H = 0.25


def _inside(record: Record) -> list[tuple[datetime, float]]:
    event = record.event
    return [(s.start, s.ev_kw) for s in record.baseline if event.start <= s.start < event.end]


def measure(record: Record, metered: dict[str, float], now: datetime, why: str) -> dict[str, Any]:
    event = record.event
    end = min(event.end, now)
    slots = [(start, kw) for start, kw in _inside(record) if start < end]
    kept = {r["start"]: float(r["expected_kw"]) for r in record.answer.get("expected_ev_kw", [])}
    rows: list[dict[str, Any]] = []
    for start, base_kw in slots:
        used = metered.get(start.isoformat(), 0.0)
        planned = kept.get(start.isoformat(), base_kw)
        rows.append(
            {
                "start": start.isoformat(),
                "baseline_kwh": round(base_kw * SLOT_H, 4),
                "planned_kwh": round(planned * SLOT_H, 4),
                "usage_kwh": round(used, 4),
            }
        )
    baseline_kwh = sum(r["baseline_kwh"] for r in rows)
    usage_kwh = sum(r["usage_kwh"] for r in rows)
    planned_kwh = sum(r["planned_kwh"] for r in rows)
    hours = max(len(rows) * SLOT_H, SLOT_H)
    delivered_kwh = max(0.0, baseline_kwh - usage_kwh)
    return {
        "event_id": event.id,
        "programme": event.programme,
        "capacity": event.capacity,
        "why": why,
        "start": event.start.isoformat(),
        "end": end.isoformat(),
        "status": record.answer.get("status"),
        "baseline_kwh": round(baseline_kwh, 4),
        "planned_kwh": round(planned_kwh, 4),
        "metered_kwh": round(usage_kwh, 4),
        "planned_delivered_kwh": round(max(0.0, baseline_kwh - planned_kwh), 4),
        "delivered_kwh": round(delivered_kwh, 4),
        "delivered_kw": round(delivered_kwh / hours, 4),
        "intervals": rows,
    }


def openadr_report(entry_id: str, log: list[dict[str, Any]]) -> dict[str, Any]:
    reports = []
    for item in log:
        intervals = [
            {
                "id": i,
                "intervalPeriod": {"start": r["start"], "duration": "PT15M"},
                "payloads": [
                    {"type": "BASELINE", "values": [r["baseline_kwh"]]},
                    {"type": "USAGE", "values": [r["usage_kwh"]]},
                    {
                        "type": "DELTA_USAGE",
                        "values": [round(r["baseline_kwh"] - r["usage_kwh"], 4)],
                    },
                ],
            }
            for i, r in enumerate(item.get("intervals") or [])
        ]
        reports.append(
            {
                "objectType": "REPORT",
                "programID": item.get("programme"),
                "eventID": item["event_id"],
                "clientName": entry_id,
                "reportName": f"{item['event_id']} delivery",
                "payloadDescriptors": [
                    {"payloadType": t, "units": "KWH"} for t in ("BASELINE", "USAGE", "DELTA_USAGE")
                ],
                "resources": [{"resourceName": "ev", "intervals": intervals}],
                "summary": {
                    k: item.get(k)
                    for k in (
                        "why",
                        "status",
                        "baseline_kwh",
                        "metered_kwh",
                        "delivered_kwh",
                        "delivered_kw",
                    )
                },
            }
        )
    return {"reports": reports}


def forecast(
    plan: dict[str, Any] | None, max_kw: float, plugged: bool, now: datetime
) -> dict[str, Any]:
    start = now.replace(minute=0, second=0, microsecond=0)
    hours: list[dict[str, Any]] = []
    slots = (plan or {}).get("slots") or []
    for h in range(24):
        h0, h1 = start + timedelta(hours=h), start + timedelta(hours=h + 1)
        inside = [s for s in slots if h0 <= datetime.fromisoformat(s["start"]) < h1]
        if not inside:
            hours.append(
                {"start": h0.isoformat(), "shed_kw": 0.0, "absorb_kw": 0.0, "plugged": False}
            )
            continue
        draw = sum(float(s["ev_kw"]) for s in inside) / len(inside)
        full = all(float(s["soc_pct"]) >= 99.9 for s in inside)
        hours.append(
            {
                "start": h0.isoformat(),
                "shed_kw": round(draw, 3),
                "absorb_kw": 0.0 if full else round(max_kw - draw, 3),
                "plugged": True,
            }
        )
    return {
        "objectType": "REPORT",
        "reportName": "day-ahead flexibility",
        "plugged": plugged,
        "hours": hours,
    }
