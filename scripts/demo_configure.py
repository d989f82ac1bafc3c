"""Wait for the demo Home Assistant, then set EVFlex up through its real config flow.

Logs in as the demo user (HA's login flow), walks the EVFlex config flow over the REST
API as the UI would, unless an EVFlex entry exists already, and prints the plan.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

CLIENT_ID = "http://127.0.0.1/"
# The onboarding steps marked done (as scripts/demo does): otherwise HA offers no login flow.
ONBOARDED = {
    "version": 4,
    "minor_version": 1,
    "key": "onboarding",
    "data": {"done": ["user", "core_config", "analytics", "integration"]},
}


def mark_onboarded(config: Path) -> None:
    storage = config / ".storage"
    storage.mkdir(exist_ok=True)
    (storage / "onboarding").write_text(json.dumps(ONBOARDED), encoding="utf-8")


def write_home(config: Path, name: str, port: int, logs: dict[str, str] | None = None) -> None:
    """configuration.yaml of a fresh Shanghai home with only what the scripts use: no
    default_config (its go2rtc needs a binary), the API on 127.0.0.1:port, warnings only
    unless `logs` raises a logger."""
    lines = [
        "homeassistant:",
        f"  name: {name}",
        "  latitude: 31.2304",
        "  longitude: 121.4737",
        "  elevation: 4",
        "  time_zone: Asia/Shanghai",
        "  currency: CNY",
        "  unit_system: metric",
        "  country: CN",
        "http:",
        "  server_host: 127.0.0.1",
        f"  server_port: {port}",
        "api:",
        "config:",
        "logger:",
        "  default: warning",
    ]
    if logs:
        lines += ["  logs:", *(f"    {logger}: {level}" for logger, level in logs.items())]
    (config / "configuration.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


FLOW: list[dict[str, Any]] = [
    {"name": "Demo home", "charger_source": "simulated"},
    {"phases": "3", "voltage": 230, "min_current": 6, "max_current": 16},
    {"battery_kwh": 60, "efficiency": 0.92, "arrival_soc": 30},
    {
        "pv_power_entity": "sensor.demo_pv_power",
        "pv_forecast_entity": "sensor.demo_pv_forecast",
        "house_power_entity": "sensor.demo_house_power",
    },
    {"tariff_kind": "preset"},
    {"preset": "shanghai_residential_tou"},
    {"import_limit_kw": 10, "max_start_delay_s": 600},
]


def modbus_flow(host: str, port: int, model: str = "alfen") -> list[dict[str, Any]]:
    """`FLOW` on a Modbus TCP charger (the simulator `scripts/demo` starts)."""
    return [
        {"name": "Demo home", "charger_source": "modbus"},
        {**FLOW[1], "host": host, "port": port, "modbus_model": model},
        *FLOW[2:],
    ]


async def _wait(session: aiohttp.ClientSession, url: str, seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            async with session.get(f"{url}/auth/providers") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no answer from {url} in {seconds:.0f} s")
        await asyncio.sleep(1)


async def _token(session: aiohttp.ClientSession, url: str, user: str, password: str) -> str:
    async with session.post(
        f"{url}/auth/login_flow",
        json={
            "client_id": CLIENT_ID,
            "handler": ["homeassistant", None],
            "redirect_uri": CLIENT_ID,
        },
    ) as resp:
        flow = await resp.json()
    async with session.post(
        f"{url}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": CLIENT_ID, "username": user, "password": password},
    ) as resp:
        result = await resp.json()
    async with session.post(
        f"{url}/auth/token",
        data={"grant_type": "authorization_code", "code": result["result"], "client_id": CLIENT_ID},
    ) as resp:
        return str((await resp.json())["access_token"])


async def _loaded(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], entry_id: str, seconds: float
) -> None:
    """Wait until Home Assistant has set the entry up (it starts integrations after HTTP)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        entries = await _api(
            session, "GET", f"{url}/api/config/config_entries/entry", headers=headers
        )
        entry = next(e for e in entries if e["entry_id"] == entry_id)
        if entry["state"] == "loaded":
            return
        if entry["state"] in ("setup_error", "migration_error", "failed_unload"):
            raise RuntimeError(f"EVFlex did not load: {entry['state']} {entry.get('reason') or ''}")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"EVFlex still {entry['state']} after {seconds:.0f} s")
        await asyncio.sleep(1)


async def _api(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    async with session.request(method, url, **kwargs) as resp:
        body = await resp.json()
        if resp.status >= 400:
            raise RuntimeError(f"{method} {url}: HTTP {resp.status}: {body}")
        return body


async def login(
    session: aiohttp.ClientSession, url: str, user: str, password: str, seconds: float = 240
) -> dict[str, str]:
    """Wait for Home Assistant's HTTP server, log in; the headers for its REST API."""
    await _wait(session, url, seconds)
    return {"Authorization": f"Bearer {await _token(session, url, user, password)}"}


async def add_evflex(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    flow: list[dict[str, Any]],
) -> str:
    """Walk EVFlex's config flow with `flow`'s answers, step by step; the new entry's id."""
    step = await _api(
        session,
        "POST",
        f"{url}/api/config/config_entries/flow",
        headers=headers,
        json={"handler": "evflex", "show_advanced_options": False},
    )
    for user_input in flow:
        if step.get("errors"):
            raise RuntimeError(f"config flow step {step['step_id']}: {step['errors']}")
        if step.get("type") != "form":
            raise RuntimeError(f"config flow ended early with {step}")
        step = await _api(
            session,
            "POST",
            f"{url}/api/config/config_entries/flow/{step['flow_id']}",
            headers=headers,
            json=user_input,
        )
    if step.get("type") != "create_entry":
        raise RuntimeError(f"config flow ended with {step}")
    return str(step["result"]["entry_id"])


async def get_plan(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    entry_id: str,
    seconds: float = 180,
) -> dict[str, Any]:
    """Wait until the entry has loaded, then call evflex.get_plan; its response."""
    await _loaded(session, url, headers, entry_id, seconds)
    answer = await _api(
        session,
        "POST",
        f"{url}/api/services/evflex/get_plan?return_response",
        headers=headers,
        json={"config_entry_id": entry_id},
    )
    return dict(answer["service_response"])


async def main(url: str, user: str, password: str, charger_port: int | None = None) -> int:
    flow = FLOW if charger_port is None else modbus_flow("127.0.0.1", charger_port)
    charger = "simulated charger"
    if charger_port is not None:
        charger = f"Modbus TCP, 127.0.0.1:{charger_port}"
    async with aiohttp.ClientSession() as session:
        headers = await login(session, url, user, password)
        entries = await _api(
            session, "GET", f"{url}/api/config/config_entries/entry", headers=headers
        )
        evflex = [e for e in entries if e["domain"] == "evflex"]
        if not evflex:
            entry_id = await add_evflex(session, url, headers, flow)
            print(f"  EVFlex set up through its config flow: Demo home ({charger})")
        else:
            entry_id = evflex[0]["entry_id"]
        result = await get_plan(session, url, headers, entry_id)
        summary = result["plan"]["summary"]
        print(
            f"  EVFlex plan: {result['plan']['status']}, {summary['energy_kwh']} kWh,"
            f" cost {summary['cost']} {summary['currency']}; now: {result['reason']}"
        )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument(
        "--charger-port", type=int, default=None, help="a Modbus TCP charger on 127.0.0.1"
    )
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args.url, args.user, args.password, args.charger_port)))
    except (RuntimeError, TimeoutError, aiohttp.ClientError, KeyError) as err:
        print(f"demo: {err}", file=sys.stderr)
        sys.exit(1)
