"""Install EVFlex as a new user would, on a fresh Home Assistant, and check it plans with HiGHS.

Given a venv holding only `homeassistant` and the release zip (scripts/test-install
prepares both), this:

1. unpacks the zip into `config/custom_components/evflex/` of a new config directory
   outside the repository, adds a user and marks onboarding done;
2. starts `hass -c CONFIG` from that directory, WITHOUT --skip-pip, so Home Assistant
   installs the manifest's requirements itself;
3. adds EVFlex through the config flow over the REST API (the simulated charger, a TOU
   preset; then a second home on a TOU of its own), calls `evflex.get_plan` for each
   and requires `summary.solver == "highs"`;
4. stops Home Assistant and reads its log: each requirement was installed by Home
   Assistant's own step (its log line, and the package now in the venv), and there is
   no blocking-call warning, no failed install, no ERROR about evflex.

Exit 0 when all of that holds; otherwise 1, with what broke and where the log is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
from demo_configure import (
    add_evflex,
    free_port,
    get_plan,
    login,
    mark_onboarded,
    write_home,
)
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD = "installer", "evflex-install-check"
FLOW: list[dict[str, Any]] = [
    {"name": "Install check", "charger_source": "simulated"},
    {"phases": "3", "voltage": 230, "min_current": 6, "max_current": 16},
    {"battery_kwh": 60, "efficiency": 0.92, "arrival_soc": 30},
    {},  # no PV, no house power sensor: both are optional
    {"tariff_kind": "preset"},
    {"preset": "shanghai_residential_tou"},
    {"import_limit_kw": 10, "max_start_delay_s": 0},
]
# A second home on a two-period TOU of its own: the other tariff path through set-up.
FLOW_CUSTOM: list[dict[str, Any]] = [
    {"name": "Install check, own TOU", "charger_source": "simulated"},
    *FLOW[1:4],
    {"tariff_kind": "custom"},
    {
        "peak_price": 0.62,
        "offpeak_price": 0.31,
        "offpeak_start": "23:00:00",
        "offpeak_end": "07:00:00",
    },
    FLOW[-1],
]
LOGS = {  # what the check reads: HA's pip step and EVFlex's own lines
    "homeassistant.util.package": "info",
    "homeassistant.requirements": "info",
    "custom_components.evflex": "info",
}
BLOCKING = re.compile(r"blocking call", re.IGNORECASE)
ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) ")


class CheckFailed(Exception):
    """What broke, in a sentence a person can act on."""


def _requirements(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return list(json.loads(archive.read("manifest.json"))["requirements"])


def prepare(venv: Path, zip_path: Path, config: Path, port: int) -> None:
    """A config directory as a new user's: the zip unpacked, a user, onboarding done."""
    target = config / "custom_components" / "evflex"
    target.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target)  # what HACS does with the release asset
    write_home(config, "EVFlex install check", port, LOGS)
    subprocess.run(
        [str(venv / "bin" / "hass"), "--script", "auth", "-c", str(config), "add", USER, PASSWORD],
        check=True,
        cwd=config.parent,
        env=_environment(),
        stdout=subprocess.DEVNULL,
    )
    mark_onboarded(config)


def _environment() -> dict[str, str]:
    """Home Assistant's environment: nothing that points into the repository."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    }


async def drive(url: str, seconds: float) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        headers = await login(session, url, USER, PASSWORD, seconds)
        began = time.monotonic()
        entry_id = await add_evflex(session, url, headers, FLOW)
        flow_s = time.monotonic() - began
        result = await get_plan(session, url, headers, entry_id, seconds)
        result["_flow_s"] = flow_s
        custom_id = await add_evflex(session, url, headers, FLOW_CUSTOM)
        result["_custom"] = await get_plan(session, url, headers, custom_id, seconds)
        return result


def check_log(log: Path, requirements: list[str]) -> list[str]:
    """Problems in Home Assistant's log; an empty list when there are none."""
    text = log.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    problems = [f"blocking call: {line}" for line in lines if BLOCKING.search(line)]
    problems += [
        f"error: {line}"
        for line in lines
        if ERROR_LINE.match(line)
        and ("evflex" in line.lower() or any(f"install package {r}:" in line for r in requirements))
    ]
    for requirement in requirements:
        if f"Attempting install of {requirement}" not in text:
            problems.append(
                f"Home Assistant did not install {requirement} itself "
                f"(no 'Attempting install of {requirement}' in the log)"
            )
    return problems


def others_failing(log: Path, requirements: list[str]) -> list[str]:
    """Packages of Home Assistant's own integrations it could not install (not EVFlex's)."""
    found = re.findall(r"Unable to install package (\S+?):", log.read_text("utf-8", "replace"))
    return sorted(set(found) - set(requirements))


def check_installed(venv: Path, requirements: list[str], workdir: Path) -> list[str]:
    """Each requirement is now in the venv, at the pinned version (HA's install landed there)."""
    wanted = [Requirement(r) for r in requirements]
    names = [r.name for r in wanted]
    probe = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n"
        "        d = m.distribution(n)\n"
        "        out[n] = [d.version, str(d.locate_file(''))]\n"
        "    except m.PackageNotFoundError:\n"
        "        out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    answer = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe, *names],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=_environment(),
    )
    found: dict[str, list[str] | None] = json.loads(answer.stdout)
    prefix = str(venv.resolve())
    problems = []
    for requirement, name in zip(wanted, names, strict=True):
        where = found[name]
        if where is None:
            problems.append(f"{name} is not installed in {venv} after Home Assistant started")
        elif not requirement.specifier.contains(where[0]) or not str(
            Path(where[1]).resolve()
        ).startswith(prefix):
            problems.append(f"{name} {where[0]} at {where[1]}, not {requirement} inside {venv}")
        else:
            print(f"  {name} {where[0]} installed by Home Assistant into {where[1]}")
    return problems


def run(venv: Path, zip_path: Path, keep: bool, seconds: float) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="evflex-install-"))
    if workdir.resolve().is_relative_to(REPO):
        raise CheckFailed(f"{workdir} is inside the repository; set TMPDIR elsewhere")
    config = workdir / "config"
    log = config / "home-assistant.log"
    port = free_port()
    requirements = _requirements(zip_path)
    began = time.monotonic()
    prepare(venv, zip_path, config, port)
    hass = subprocess.Popen(
        [str(venv / "bin" / "hass"), "-c", str(config), "--log-file", str(log)],
        cwd=workdir,  # outside the repository: nothing of it on sys.path
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "hass.stderr").open("wb"),
        start_new_session=True,
    )
    ok = False
    try:
        try:
            result = asyncio.run(drive(f"http://127.0.0.1:{port}", seconds))
        except (RuntimeError, TimeoutError, aiohttp.ClientError, KeyError) as err:
            raise CheckFailed(f"the REST API walk failed: {err}") from err
        print(
            f"  config flow (Home Assistant installing {', '.join(requirements)}): "
            f"{result['_flow_s']:.1f} s"
        )
        for home, answer in (("preset TOU", result), ("own TOU", result["_custom"])):
            summary = answer["plan"]["summary"]
            print(
                f"  evflex.get_plan, {home}: {answer['plan']['status']}, solver "
                f"{summary['solver']}, {summary['energy_kwh']} kWh, cost {summary['cost']} "
                f"{summary['currency']}"
            )
            if summary["solver"] != "highs":
                raise CheckFailed(
                    f"the {home} plan was made by {summary['solver']!r}, not 'highs' (the "
                    "solver failed inside Home Assistant: look for 'Solver failed' in the log)"
                )
        ok = True
    finally:
        _stop(hass)
        if not ok:
            print(f"install check: Home Assistant's log: {log}", file=sys.stderr)
    problems = check_log(log, requirements) + check_installed(venv, requirements, workdir)
    if problems:
        raise CheckFailed("\n  ".join([f"problems (log: {log}):", *problems]))
    if others := others_failing(log, requirements):
        print(f"  note: Home Assistant could not install {', '.join(others)} (not EVFlex's)")
    print(f"  no blocking call, no error about evflex in the log; {time.monotonic() - began:.0f} s")
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _stop(hass: subprocess.Popen[bytes]) -> None:
    if hass.poll() is not None:
        return
    os.killpg(hass.pid, signal.SIGTERM)
    try:
        hass.wait(90)
    except subprocess.TimeoutExpired:
        os.killpg(hass.pid, signal.SIGKILL)
        hass.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, required=True, help="a venv with only homeassistant")
    parser.add_argument("--zip", type=Path, required=True, help="the release zip (evflex.zip)")
    parser.add_argument("--keep", action="store_true", help="keep the config dir and log")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for each wait")
    args = parser.parse_args()
    try:
        return run(args.venv, args.zip.resolve(), args.keep, args.timeout)
    except CheckFailed as err:
        print(f"install check FAILED: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
