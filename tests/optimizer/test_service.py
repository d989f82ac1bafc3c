"""The companion service over real HTTP: `python -m optimizer serve` in its own process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import pytest_socket

from optimizer.service import SHUTDOWN_GRACE_S
from tests.optimizer.helpers import request


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    pytest_socket.enable_socket()  # set up before conftest's hook re-enables sockets
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(
            "service did not start: " + (proc.stderr.read().decode() if proc.stderr else "")
        )
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=SHUTDOWN_GRACE_S + 20)


async def _call(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_plan_over_http(service: str) -> None:
    status, body = await _call("POST", f"{service}/v1/plan", json=request())
    assert status == 200
    assert body["status"] == "ok"
    assert body["summary"]["cost"] == 9.21


async def test_health_and_openapi(service: str) -> None:
    status, body = await _call("GET", f"{service}/healthz")
    assert (status, body["status"]) == (200, "ok")
    status, doc = await _call("GET", f"{service}/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.")
    assert "/v1/plan" in doc["paths"]
    schema = doc["components"]["schemas"]["PlanRequest"]
    assert set(schema["required"]) == {"version", "start", "vehicle", "charger", "prices"}


@pytest.mark.parametrize(
    ("body", "field", "error"),
    [
        ({**request(), "colour": 1}, "colour", "colour: unknown field"),
        (
            {**request(), "mode": "turbo"},
            "mode",
            "mode: must be one of smart, solar_only, fast, off",
        ),
        ([1, 2], "", "request must be a JSON object"),
    ],
)
async def test_bad_request_is_400_with_field(
    service: str, body: Any, field: str, error: str
) -> None:
    status, answer = await _call("POST", f"{service}/v1/plan", json=body)
    assert status == 400
    assert answer == {"error": error, "field": field}


async def test_malformed_json_and_oversized_body(service: str) -> None:
    status, answer = await _call("POST", f"{service}/v1/plan", data=b"{oops")
    assert status == 400
    assert answer["error"].startswith("body is not valid JSON")
    status, answer = await _call("POST", f"{service}/v1/plan", data=b"x" * (3 * 1024 * 1024))
    assert status == 413
    assert "larger than" in answer["error"]


def test_stops_promptly_with_a_stalled_upload_and_an_idle_connection() -> None:
    """SIGTERM while a client has sent half a body and another keeps its connection
    open: the service stops within its grace, not aiohttp's default minute."""
    pytest_socket.enable_socket()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                stalled = socket.create_connection(("127.0.0.1", port), timeout=0.2)
                break
            except OSError:
                assert time.monotonic() < deadline, "service did not start"
                time.sleep(0.1)
        with stalled, socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
            stalled.sendall(
                b"POST /v1/plan HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000000\r\n\r\n{"version":'
            )
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert idle.recv(1000).startswith(b"HTTP/1.1 200")  # kept alive after this
            time.sleep(0.3)  # the upload's handler is waiting for the rest of the body
            asked = time.monotonic()
            proc.terminate()
            proc.wait(timeout=SHUTDOWN_GRACE_S + 20)
            took = time.monotonic() - asked
        assert proc.returncode == 0
        assert took < SHUTDOWN_GRACE_S + 5, f"stopped after {took:.1f} s"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
