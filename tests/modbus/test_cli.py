"""The evflex-charger-sim command: serves the map, answers its control endpoint."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

import aiohttp

from custom_components.evflex.charger.modbus.driver import probe
from custom_components.evflex.charger.modbus.maps import MODELS

ROOT = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_command_serves_and_obeys_control(loopback: None) -> None:
    port, control = _free_port(), _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chargersim", "--model", "vestel", "--port", str(port),
        "--control-port", str(control), "--soc", "55", "--print-every", "0",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert f"127.0.0.1:{port} (unit 255)" in banner
        identity = await probe(MODELS["vestel"], "127.0.0.1", port, None)
        assert identity.firmware == "v3.187.0"
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{control}"
            async with http.get(f"{base}/state") as resp:
                state = await resp.json()
            assert (state["model"], state["soc_pct"], state["plugged"]) == ("vestel", 55, True)
            async with http.post(f"{base}/plug", json={"connected": False}) as resp:
                assert (await resp.json())["plugged"] is False
            async with http.post(f"{base}/fault", json={"delay_s": 99}) as resp:
                assert resp.status == 400
                assert await resp.text() == "delay_s: must be between 0 and 60"
            async with http.post(f"{base}/fault", data="[1]") as resp:
                assert resp.status == 400
            async with http.post(f"{base}/reboot", json={}) as resp:
                assert json.loads(await resp.text())["reboots"] == 1
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 20) == 0
