"""Builders for plan-v1 requests in tests: a day in Shanghai (+08:00) by default."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

TZ = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 29, tzinfo=TZ)


def at(hhmm: str, day: int = 0) -> str:
    """'22:00' on the test day (day=1: the next day) as an ISO time with offset."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return (DAY + timedelta(days=day, hours=hours, minutes=minutes)).isoformat()


def iv(
    start: str, end: str, value: float, day0: int = 0, day1: int | None = None
) -> dict[str, Any]:
    """An interval from `start` on day0 to `end` on day1 (default: day0, or day0+1 if it wraps)."""
    if day1 is None:
        day1 = day0 + (1 if end <= start else 0)
    return {"start": at(start, day0), "end": at(end, day1), "value": value}


def shanghai_tou(days: int = 2) -> list[dict[str, Any]]:
    """Peak 06:00-22:00 0.617, valley 22:00-06:00 0.307 CNY/kWh, from 00:00 on the test day."""
    out = [iv("00:00", "06:00", 0.307)]
    for d in range(days):
        out += [iv("06:00", "22:00", 0.617, d), iv("22:00", "06:00", 0.307, d)]
    return out


# Today's tie-breaks (earliest, fullest slots) instead of the grid-friendly default.
EARLY: dict[str, Any] = {"profile": "as_early_as_possible"}

BASE: dict[str, Any] = {
    "version": 1,
    "start": at("18:00"),
    "slot_minutes": 15,
    "currency": "CNY",
    "vehicle": {
        "battery_kwh": 60,
        "soc_pct": 30,
        "target_soc_pct": 80,
        "departure": at("07:30", 1),
        "charge_efficiency": 1.0,
    },
    "charger": {"min_power_kw": 4.1, "max_power_kw": 11.0},
    "prices": {"import": shanghai_tou()},
}


def request(**changes: Any) -> dict[str, Any]:
    """BASE with top-level keys replaced; `vehicle`/`charger` dicts are merged."""
    out = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key in ("vehicle", "charger") and isinstance(value, dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def charging(response: dict[str, Any]) -> list[tuple[str, float]]:
    """(HH:MM, kW) of every slot that charges."""
    return [(s["start"][11:16], s["ev_kw"]) for s in response["slots"] if s["ev_kw"] > 0]


def run(hhmm: str, count: int, kw: float, step: int = 15) -> list[tuple[str, float]]:
    """`count` consecutive slots at `kw` from `hhmm`."""
    first = datetime.strptime(hhmm, "%H:%M")
    return [((first + timedelta(minutes=step * i)).strftime("%H:%M"), kw) for i in range(count)]


def hourly(values: list[float], start: datetime) -> list[dict[str, Any]]:
    """A plan-v1 interval series of one value per hour from `start`."""
    return [
        {
            "start": (start + timedelta(hours=i)).isoformat(),
            "end": (start + timedelta(hours=i + 1)).isoformat(),
            "value": v,
        }
        for i, v in enumerate(values)
    ]


def draw_signals(
    draw: Any, start: datetime, hours: int, most: int, prices: Any, limits: Any
) -> list[dict[str, Any]]:
    """Up to `most` random dispatch signals on whole hours of the horizon (hypothesis):
    import or EV limits drawn from `limits`, price signals with values from `prices`."""
    from hypothesis import strategies as st

    signals = []
    for i in range(draw(st.integers(0, most))):
        a = draw(st.integers(0, hours - 1))
        b = draw(st.integers(a + 1, hours))
        kind = draw(st.sampled_from(["import_limit", "ev_limit", "price"]))
        sig: dict[str, Any] = {
            "id": f"s{i}",
            "type": kind,
            "start": (start + timedelta(hours=a)).isoformat(),
            "end": (start + timedelta(hours=b)).isoformat(),
        }
        if kind == "price":
            values = draw(st.lists(prices, min_size=b - a, max_size=b - a))
            sig["series"] = hourly(values, start + timedelta(hours=a))
        else:
            sig["limit_kw"] = draw(limits)
        signals.append(sig)
    return signals


def neighbour_solve(threads: int = 0) -> dict[str, Any]:
    """Another library's HiGHS in this process: default options (or `threads`), the
    MIP min x + 2y, x + y >= 1, x, y in {0, 1} (x = 1, objective 1)."""
    import highspy
    import numpy as np

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if threads:
        h.setOptionValue("threads", threads)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = 2, 1
    lp.col_cost_ = np.array([1.0, 2.0])
    lp.col_lower_, lp.col_upper_ = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    lp.row_lower_, lp.row_upper_ = np.array([1.0]), np.array([highspy.kHighsInf])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array([0, 1, 2], dtype=np.int32)
    lp.a_matrix_.index_ = np.array([0, 0], dtype=np.int32)
    lp.a_matrix_.value_ = np.array([1.0, 1.0])
    lp.integrality_ = [highspy.HighsVarType.kInteger] * 2
    h.passModel(lp)
    status = h.run()
    return {
        "run": str(status),
        "model": h.modelStatusToString(h.getModelStatus()),
        "objective": h.getInfo().objective_function_value,
    }


def in_fresh_process(script: str, *args: str) -> Any:
    """Run `script` in a new interpreter from the repository (HiGHS's scheduler is
    process-wide: only a fresh process shows who starts it); its last stdout line as JSON."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
