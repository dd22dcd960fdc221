"""An ASGI app that counts the requests reaching one path of the app it wraps: how tests show that a call sent
nothing upstream, or exactly one request."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class Counted:
    """The sandbox app, counting the requests that reach one path."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            self.count += 1
        await self.app(scope, receive, send)
