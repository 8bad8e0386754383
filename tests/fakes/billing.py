"""A stand-in for the operator's billing system: GET /contracts?number=|smartcard=|device=|phone=."""

from __future__ import annotations

import json
import time

from werkzeug.wrappers import Request, Response

from .server import LocalServer

TOKEN = "billing-test-token"


class FakeBilling:
    def __init__(self, contracts: list[dict]):
        self.contracts = contracts
        self.mode = "ok"  # ok | down | slow | garbage
        self.requests: list[dict] = []
        self.http = LocalServer(self.app)
        self.url = self.http.url

    def stop(self):
        self.http.stop()

    def app(self, environ, start_response):
        request = Request(environ)
        self.requests.append({k: request.args.getlist(k) for k in request.args})
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            response = Response(json.dumps({"error": "unauthorized"}), status=401, mimetype="application/json")
        elif self.mode == "down":
            response = Response("<html>502 Bad Gateway</html>", status=502, mimetype="text/html")
        elif self.mode == "garbage":
            response = Response("{not json", status=200, mimetype="application/json")
        else:
            if self.mode == "slow":
                time.sleep(3)
            found = [c for c in self.contracts if self._matches(c, request.args)]
            response = Response(json.dumps({"contracts": found}), mimetype="application/json")
        return response(environ, start_response)

    @staticmethod
    def _matches(contract: dict, args) -> bool:
        if "number" in args:
            return contract["number"] in args.getlist("number")
        if "phone" in args:
            return contract["phone"] == args["phone"]
        if "smartcard" in args:
            return args["smartcard"] in contract.get("smartcards", [])
        if "device" in args:
            return args["device"] in contract.get("device_codes", [])
        return False
