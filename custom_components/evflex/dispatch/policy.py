"""The honest answer to a dispatch event, from plans made with and without it.

The driver comes first (unless the owner chose otherwise in the options): the
departure target, the minimum SoC and a boost win over any request.

1. `baseline`: the plan EVFlex would run without the event; `planned`: the plan
   with it.
2. If `planned` misses the departure target by more than the baseline does, the
   event's caps are raised by the least `relax_kw` (the same kW in every capped
   slot, found by bisection over what the charger can really draw: nothing below
   its minimum, at most its maximum) that brings the missing energy back, and the
   plan is made again with it (`relaxation`).
3. Below the minimum SoC, the event holds only from when the baseline reaches it
   (`free_until`).
4. `answer` compares, slot by slot, what was asked with what the home will do (the
   kept plan; full power while a boost runs): `accepted` when every slot keeps it,
   `declined` when none does, else `partially_accepted`, listing the slots, the kW
   and why (`departure`, `below_charger_minimum`, `min_soc`, `boost`,
   `not_plugged_in`, `baseline`: the home was not going to draw that much); while
   the charger does not answer, `charger_unavailable` is among the reasons and an
   `accepted` is only `partially_accepted` (the plan keeps it; the charger cannot be
   told now).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .book import Slot
from .events import Event

EPS = 0.01  # kW


@dataclass(frozen=True, slots=True)
class Context:
    plugged: bool
    min_kw: float
    max_kw: float
    efficiency: float
    soc_pct: float
    min_soc_pct: float
    boost_until: datetime | None = None
    driver_first: bool = True  # the owner's option: the departure wins over a request
    charger_ok: bool = True  # the charger answers now (else nothing can be promised)


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> bool:
    return a0 < b1 and b0 < a1


def ev_caps(event: Event, plan: dict[str, Any] | None, max_kw: float) -> list[float | None]:
    """Per slot of `plan`, the EV power the event allows (None: it sets no cap there)."""
    caps: list[float | None] = []
    for s in (plan or {}).get("slots") or []:
        start, end = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        cap: float | None = None
        for part in event.parts:
            if not _overlap(start, end, part.start, part.end):
                continue
            if part.kind == "ev_limit":
                value = part.value
            elif part.kind == "import_limit":
                value = part.value - float(s["base_load_kw"]) + float(s["pv_kw"])
            elif part.kind == "simple" and part.value > 0:
                value = max_kw * (3 - part.value) / 3
            else:
                continue
            cap = value if cap is None else min(cap, value)
        caps.append(None if cap is None else max(0.0, cap))
    return caps


def shortfall(plan: dict[str, Any] | None) -> float:
    return float(((plan or {}).get("summary") or {}).get("shortfall_kwh") or 0.0)


def _drawable(kw: float, ctx: Context) -> float:
    return 0.0 if kw < ctx.min_kw - 1e-9 else min(kw, ctx.max_kw)


def relaxation(
    caps: Sequence[float | None], missing_kwh: float, hours: float, ctx: Context
) -> float:
    """The least kW added to every cap that lets the car take `missing_kwh` more (battery
    side); the whole charger if even that is not enough."""
    if missing_kwh <= 1e-6:
        return 0.0
    capped = [c for c in caps if c is not None]
    grid_kwh = missing_kwh / ctx.efficiency

    def extra(delta: float) -> float:
        return sum(hours * (_drawable(c + delta, ctx) - _drawable(c, ctx)) for c in capped)

    if not capped or extra(ctx.max_kw) < grid_kwh - 1e-6:
        return round(ctx.max_kw, 2)
    low, high = 0.0, ctx.max_kw
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if extra(mid) < grid_kwh - 1e-9 else (low, mid)
    return float(-(-round(high * 1e6) // 10_000) / 100)  # up to the next 0.01 kW


def free_until(baseline: dict[str, Any] | None, ctx: Context) -> datetime | None:
    """Below the minimum SoC: when the baseline reaches it (the event holds from there)."""
    if ctx.soc_pct >= ctx.min_soc_pct - 1e-6:
        return None
    for s in (baseline or {}).get("slots") or []:
        if float(s["soc_pct"]) >= ctx.min_soc_pct - 1e-3:
            return datetime.fromisoformat(s["end"])
    return None


def answer(
    event: Event,
    baseline: dict[str, Any] | None,
    kept: dict[str, Any] | None,
    baseline_slots: tuple[Slot, ...],
    ctx: Context,
    *,
    relax_kw: float,
    freed: datetime | None,
    start: datetime,
) -> dict[str, Any]:
    """The answer to the aggregator (see the module docstring)."""
    caps = ev_caps(event, kept, ctx.max_kw)
    kept_slots = (kept or {}).get("slots") or []
    reduction = {p.kind for p in event.parts} == {"reduction"}
    window: list[dict[str, Any]] = []
    short: list[dict[str, Any]] = []
    asked_total = kept_total = 0.0
    for i, s in enumerate(kept_slots):
        s0, s1 = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        if not _overlap(s0, s1, max(event.start, start), event.end):
            continue
        boost = ctx.boost_until is not None and s0 < ctx.boost_until
        expected = ctx.max_kw if boost and ctx.plugged else float(s["ev_kw"])
        base = next((b.ev_kw for b in baseline_slots if b.start == s0), 0.0)
        row: dict[str, Any] = {
            "start": s["start"],
            "end": s["end"],
            "expected_kw": round(expected, 3),
        }
        reason: str | None = None
        if reduction:
            asked = max(p.value for p in event.parts if _overlap(s0, s1, p.start, p.end))
            shed = max(0.0, base - expected)
            row |= {"baseline_kw": round(base, 3), "requested_kw": asked, "kept_kw": round(shed, 3)}
            asked_total += asked
            kept_total += min(asked, shed)
            if shed < asked - EPS:
                reason = _why(ctx, boost, freed, s0, relax_kw, None, fallback="baseline")
        elif caps[i] is not None:
            cap = float(caps[i] or 0.0)
            row["requested_kw"] = round(cap, 3)
            asked_total += 1
            if expected > cap + EPS:
                reason = _why(ctx, boost, freed, s0, relax_kw, cap, fallback="departure")
                row["over_kw"] = round(expected - cap, 3)
            else:
                kept_total += 1
        window.append(row)
        if reason is not None:
            short.append({**row, "reason": reason})
    if reduction and not window:
        status = "declined"  # no plan to reduce: the car was not going to draw
        short.append(
            {
                "start": event.start.isoformat(),
                "end": event.end.isoformat(),
                "reason": "not_plugged_in" if not ctx.plugged else "baseline",
            }
        )
    elif not window or asked_total <= 0:
        status = "accepted"  # a price, or a window the home does not draw in
    elif not short:
        status = "accepted"
    elif kept_total <= 1e-6:
        status = "declined"
    else:
        status = "partially_accepted"
    expected_kw = [r["expected_kw"] for r in window]
    result: dict[str, Any] = {
        "event_id": event.id,
        "status": status,
        "expected_ev_kw": window,
        "average_ev_kw": round(sum(expected_kw) / len(expected_kw), 3) if expected_kw else 0.0,
        "shortfalls": short,
        "reasons": sorted({r["reason"] for r in short}),
        "relax_kw": relax_kw,
        "flexibility_left": {
            "shed_kw": round(min(expected_kw), 3) if expected_kw and relax_kw <= 0 else 0.0,
            "absorb_kw": round(min(ctx.max_kw - e for e in expected_kw), 3)
            if expected_kw and ctx.plugged
            else 0.0,
        },
    }
    if reduction:
        result["delivered_kwh"] = round(
            sum(r.get("kept_kw", 0.0) for r in window) * _hours(kept), 3
        )
    missed = shortfall(kept) - shortfall(baseline)
    if missed > 1e-3:
        result["departure_shortfall_kwh"] = round(missed, 3)
    if not ctx.plugged:
        result["reasons"] = sorted({*result["reasons"], "not_plugged_in"})
    if not ctx.charger_ok:  # kept in the plan, but the charger cannot be told now
        result["reasons"] = sorted({*result["reasons"], "charger_unavailable"})
        if status == "accepted":
            result["status"] = "partially_accepted"
    return result


def _why(
    ctx: Context,
    boost: bool,
    freed: datetime | None,
    s0: datetime,
    relax_kw: float,
    cap: float | None,
    *,
    fallback: str,
) -> str:
    if not ctx.plugged:
        return "not_plugged_in"
    if boost:
        return "boost"
    if freed is not None and s0 < freed:
        return "min_soc"
    if cap is not None and 0 < cap < ctx.min_kw - 1e-9:
        return "below_charger_minimum"
    if relax_kw > 0:
        return "departure"
    return fallback


def _hours(plan: dict[str, Any] | None) -> float:
    slots = (plan or {}).get("slots") or []
    if not slots:
        return 0.25
    first = slots[0]
    span = datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"])
    return span.total_seconds() / 3600
