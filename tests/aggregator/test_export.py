"""`--export DIR`: the metrics recomputed from the exported files alone (csv and json, no
aggregator code), against the study's own metrics.csv."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from aggregator import HandSetCar, hand_set_fleet
from aggregator.backends import SerialBackend
from aggregator.export import export
from aggregator.strategies import uncontrolled
from aggregator.study import Study, StudyOptions

SLOT_HOURS = 0.25


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_cli_export_lets_the_metrics_be_recomputed(tmp_path: Path) -> None:
    out, exported = tmp_path / "out", tmp_path / "export"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "aggregator", "fleet", "--days", "1", "--homes", "8"),
            *("--workers", "1", "--ev-share", "0.5", "--non-response", "0.3"),
            *("--out", str(out), "--export", str(exported)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {exported / 'homes.csv'}" in done.stdout
    instance = json.loads((exported / "instance.json").read_text(encoding="utf-8"))
    rating = instance["rating_kw"]
    street = _rows(exported / "street.csv")
    homes = _rows(exported / "homes.csv")
    sessions = _rows(exported / "sessions.csv")
    assert len(street) == instance["slots"] == 96
    assert len(homes) == 96 * instance["homes"]
    assert {r["responds"] for r in sessions} <= {"0", "1"}
    metrics = {r["strategy"]: r for r in _rows(out / "metrics.csv")}
    assert list(metrics) == instance["strategies"]
    for name in instance["strategies"]:
        # feeder[t] = common[t] + sum over homes of (load - pv + ev)
        feeder = [float(r["common_kw"]) for r in street]
        ev: dict[tuple[int, int], float] = defaultdict(float)
        for r in homes:
            t, h, kw = int(r["slot"]), int(r["home"]), float(r[f"ev_kw_{name}"])
            feeder[t] += float(r["load_kw"]) - float(r["pv_kw"]) + kw
            ev[h, t] = kw
        m = metrics[name]
        assert max(feeder) == pytest.approx(float(m["peak_kw"]), abs=1e-3)
        assert 100 * max(map(abs, feeder)) / rating == pytest.approx(
            float(m["worst_loading_pct"]), abs=1e-3
        )
        over = sum(SLOT_HOURS for kw in feeder if abs(kw) > rating + 1e-6)
        assert over == float(m["hours_overloaded"])
        energy = SLOT_HOURS * sum(ev.values())
        assert energy == pytest.approx(float(m["ev_energy_kwh"]), abs=1e-3)
        missing = 0.0
        for s in sessions:
            window = range(int(s["arrival_slot"]), int(s["departure_slot"]))
            got = SLOT_HOURS * float(s["efficiency"]) * sum(ev[int(s["home"]), t] for t in window)
            missing += max(0.0, float(s["need_kwh"]) - got)
        assert missing == pytest.approx(float(m["not_delivered_kwh"]), abs=1e-3)
        ambient = [float(r["ambient_c"]) for r in street]
        life = _life_used_h(instance["thermal_model"], [kw / rating for kw in feeder], ambient)
        assert life == pytest.approx(float(m["loss_of_life_h"]), rel=1e-6)


def _life_used_h(p: dict[str, float], loading: list[float], ambient: list[float]) -> float:
    """IEC 60076-7 as instance.json states it: 1-minute steps, from the first day's
    periodic state (its 24 h three times), V = 2^((hot spot - 98) / 6)."""
    oil, h1, h2 = ambient[0], 0.0, 0.0
    life = 0.0
    for counted in (False, False, False, True):
        for i, (k, ta) in enumerate(zip(loading, ambient, strict=True)):
            if not counted and i == 96:
                break
            rise = p["top_oil_rise_k"] * ((1 + p["r"] * k * k) / (1 + p["r"])) ** p["x"]
            grad = p["hot_spot_gradient_k"] * abs(k) ** p["y"]
            for _ in range(15):
                oil += (rise - (oil - ta)) / (p["k11"] * p["tau_oil_min"])
                h1 += (p["k21"] * grad - h1) / (p["k22"] * p["tau_winding_min"])
                h2 += ((p["k21"] - 1) * grad - h2) / (p["tau_oil_min"] / p["k22"])
                if counted:
                    life += 2 ** ((oil + h1 - h2 - 98) / 6) / 60
    return life


def test_export_of_a_hand_set_street(tmp_path: Path) -> None:
    # 2 cars 18:00-07:00 needing 13.32 kWh (2 h at 7.4 kW x 0.9), 1 kW household load each,
    # 20 kW rating. Uncontrolled, both charge 7.4 kW from 18:00 for 2 h (slots 24..31 of a
    # night that starts at 12:00): the feeder is 2 x (1 + 7.4) = 16.8 kW then, 2 kW after.
    fleet = hand_set_fleet([HandSetCar(need_kwh=7.4 * 2 * 0.9)] * 2, base_kw=1.0, rating_kw=20.0)
    ev = uncontrolled(fleet, SerialBackend(), None)
    export(Study(StudyOptions(days=1), fleet, {"uncontrolled": ev}), tmp_path)
    sessions = _rows(tmp_path / "sessions.csv")
    assert [(r["home"], r["arrival_slot"], r["departure_slot"]) for r in sessions] == [
        ("0", "24", "76"),
        ("1", "24", "76"),
    ]
    assert sessions[0]["need_kwh"] == "13.32"
    assert sessions[0]["arrival"].endswith("T18:00:00+08:00")
    homes = _rows(tmp_path / "homes.csv")
    at_18 = [r for r in homes if r["slot"] == "24"]
    assert [(r["load_kw"], r["ev_kw_uncontrolled"]) for r in at_18] == [("1", "7.4")] * 2
    at_20 = [r for r in homes if r["slot"] == "32"]
    assert [r["ev_kw_uncontrolled"] for r in at_20] == ["0"] * 2
    street = _rows(tmp_path / "street.csv")
    assert {r["rating_kw"] for r in street} == {"20.0"}
