"""A limit on the REST API's request bodies, so a hostile client cannot make the emulator read one into memory.

A body declared longer than the limit is refused before a byte of it is read; a body without a length (chunked)
is read until it passes the limit, then refused. Either way the answer is a 413 with Betfair's fault (REQUEST_SIZE_EXCEEDS_LIMIT) and the
connection is closed, so the rest of the body is never read."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.apierrors import rest_exception

MAX_BODY = 1 << 20  # bytes of a request body the REST API reads at most


class BodyTooLarge(Exception):
    """A request body passed the limit while it was being read."""


class BodyLimit:
    """ASGI middleware: request bodies over `limit` bytes are answered 413 (JSON) and the connection closed."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:  # uvicorn has already answered 400 to a bad one
            await self._refuse(send)
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        fault = rest_exception("APINGException", "REQUEST_SIZE_EXCEEDS_LIMIT", f"request body over {self.limit} bytes")
        body = json.dumps(fault).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),  # uvicorn closes it after the answer: the rest of the body goes unread
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
