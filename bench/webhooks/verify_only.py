"""Baseline for bench/webhooks.py: a bare aiohttp app that verifies the signature and answers.

One handler: read the body, ``gidgethub.sansio.Event.from_http(headers, body, secret=...)``
(HMAC-SHA256 check and JSON parse, as any gidgethub app does), answer 200. Nothing is
stored, logged or queued: this is the ceiling for a Python/aiohttp intake on this machine.

    WEBHOOK_SECRET=... python bench/webhooks/verify_only.py --port 8080 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import os

from aiohttp import web
from gidgethub import BadRequest, ValidationFailure
from gidgethub.sansio import Event


def make_app(secret: str) -> web.Application:
    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            Event.from_http(request.headers, body, secret=secret)
        except ValidationFailure:
            return web.Response(status=401, text="bad signature")
        except BadRequest as exc:
            return web.Response(status=400, text=str(exc))
        return web.Response(status=200, text="ok")

    app = web.Application(client_max_size=25 * 1024 * 1024)
    app.router.add_post("/webhooks/github", webhook)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    secret = os.environ["WEBHOOK_SECRET"]
    web.run_app(make_app(secret), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
