"""A relying party's back-channel logout endpoint on 127.0.0.1: records the logout tokens it gets."""

from __future__ import annotations

import threading
import time

from werkzeug.wrappers import Request, Response

from .server import LocalServer


class LogoutReceiver:
    def __init__(self):
        self.tokens: list[str] = []
        self.delay = 0.0
        self.status = 200
        self.arrived = threading.Event()
        self.http = LocalServer(self.app)
        self.url = self.http.url + "/backchannel-logout"

    def stop(self):
        self.http.stop()

    def app(self, environ, start_response):
        request = Request(environ)
        if self.delay:
            time.sleep(self.delay)
        if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
            self.tokens.append(request.form.get("logout_token", ""))
            self.arrived.set()
        return Response(status=self.status, headers={"Cache-Control": "no-store"})(environ, start_response)

    def wait(self, count: int = 1, seconds: float = 10) -> list[str]:
        deadline = time.monotonic() + seconds
        while len(self.tokens) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.tokens
