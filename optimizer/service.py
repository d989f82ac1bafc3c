"""The companion HTTP service: `python -m optimizer serve --host 127.0.0.1 --port 8765`.

POST /v1/plan   plan-v1 request -> plan-v1 response (400 {"error", "field"} if refused)
GET  /healthz   liveness and the solver's availability
GET  /openapi.json

Planning runs in a worker thread, one at a time per worker, so the event loop
keeps answering health checks while a plan is solved. Bad input never yields a
500: malformed JSON, a body over the size limit and every plan-v1 rule get a 4xx
with the field and the rule.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from . import PlanError, plan
from .openapi import document
from .request import DEFAULT_SOLVER_TIME_LIMIT_S

MAX_BODY_BYTES = 2 * 1024 * 1024
WORKERS = 2
# On SIGTERM, requests in flight get this long (a plan at the default solver limit
# finishes); a client that stalls mid-upload or idles on a kept-alive connection does
# not hold the stop for aiohttp's default minute.
SHUTDOWN_GRACE_S = DEFAULT_SOLVER_TIME_LIMIT_S
_LOGGER = logging.getLogger(__name__)
EXECUTOR: web.AppKey[ThreadPoolExecutor] = web.AppKey("executor", ThreadPoolExecutor)


def _error(status: int, message: str, field: str = "") -> web.Response:
    return web.json_response({"error": message, "field": field}, status=status)


async def handle_plan(request: web.Request) -> web.Response:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return _error(400, f"body is not valid JSON: {err}")
    loop = asyncio.get_running_loop()
    try:
        response = await loop.run_in_executor(request.app[EXECUTOR], plan, raw)
    except PlanError as err:
        return _error(400, str(err), err.field)
    return web.json_response(response)


async def handle_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": 1})


async def handle_openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


async def _executor(app: web.Application) -> AsyncIterator[None]:
    app[EXECUTOR] = ThreadPoolExecutor(WORKERS, thread_name_prefix="evflex-plan")
    yield
    app[EXECUTOR].shutdown(wait=False, cancel_futures=True)


def create_app() -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.cleanup_ctx.append(_executor)
    app.router.add_post("/v1/plan", handle_plan)
    app.router.add_get("/healthz", handle_health)
    app.router.add_get("/openapi.json", handle_openapi)
    return app


def run(host: str, port: int) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    web.run_app(
        create_app(),
        host=host,
        port=port,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        print=lambda msg: _LOGGER.info("%s", msg),
    )
