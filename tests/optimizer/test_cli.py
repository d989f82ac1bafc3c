"""The command line, run as a user would: a real process, stdout carries JSON only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.optimizer.helpers import request


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_plan_prints_only_the_response_json(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request()))
    done = _run("plan", str(path))
    assert done.returncode == 0, done.stderr
    response = json.loads(done.stdout)  # the whole of stdout parses: no banner
    assert response["status"] == "ok"
    assert response["summary"]["cost"] == 9.21
    assert "HiGHS" not in done.stdout


def test_plan_reads_stdin_and_draws_a_plot(tmp_path: Path) -> None:
    png = tmp_path / "plan.png"
    done = _run("plan", "-", "--plot", str(png), stdin=json.dumps(request()))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_refused_request_exits_2_with_field_and_rule(tmp_path: Path) -> None:
    req = request()
    req["vehicle"]["soc_pct"] = 130
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(req))
    done = _run("plan", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == "error: vehicle.soc_pct: must be between 0 and 100"


def test_unreadable_and_malformed_input(tmp_path: Path) -> None:
    missing = _run("plan", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    broken = _run("plan", "-", stdin="{not json")
    assert broken.returncode == 2
    assert "not valid JSON" in broken.stderr


def test_demo_explains_a_plan_for_the_simulated_home() -> None:
    done = _run("demo")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Car: 30% -> 80% of 60 kWh by ")
    assert lines[1].startswith("Plan (ok): ")
    assert any(line.strip().startswith("charge ") for line in lines)
    assert lines[-1].startswith("Solved by highs in ")


def test_demo_request_is_a_valid_plan_v1_request() -> None:
    from optimizer import parse

    done = _run("demo-request")
    request = json.loads(done.stdout)
    parsed = parse(request)
    assert parsed.currency == "CNY"
    assert parsed.import_limit_kw == 10.0
