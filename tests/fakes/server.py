"""Serving a WSGI app on 127.0.0.1 from a thread, for the live servers and stand-ins the tests start."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server


def _not_started(environ, start_response):
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"not started"]


class LocalServer:
    """A free port on 127.0.0.1, known before the app exists (apps often need their own URL)."""

    def __init__(self, app=None, request_handler=None):
        options = {"request_handler": request_handler} if request_handler else {}
        self.server = make_server("127.0.0.1", 0, app or _not_started, threaded=True, **options)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = None
        if app is not None:
            self.start(app)

    def start(self, app) -> None:
        self.server.app = app
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join(timeout=5)
        self.server.server_close()
