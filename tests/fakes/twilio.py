"""A stand-in for Twilio's Messages API on 127.0.0.1, speaking its wire format.

POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form fields To, Body and
From or MessagingServiceSid, HTTP Basic auth with the account SID and auth
token (or an API key SID and secret); 201 with a Message resource, or Twilio's
JSON error body ({"code", "message", "more_info", "status"}).
"""

from __future__ import annotations

import base64
import json
import time
import uuid

from werkzeug.wrappers import Request, Response

from .server import LocalServer

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-auth-token"
API_KEY_SID = "SK" + "1" * 32
API_KEY_SECRET = "twilio-test-api-key-secret"


class FakeTwilio:
    def __init__(self):
        self.messages: list[dict] = []
        self.mode = "ok"  # ok | invalid_number | server_error | slow
        self.delay = 0.0
        self.http = LocalServer(self.app)
        self.url = self.http.url

    def stop(self):
        self.http.stop()

    def _error(self, status: int, code: int, message: str) -> Response:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
        return Response(json.dumps(body), status=status, mimetype="application/json")

    def _authorised(self, request: Request, account_sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return account_sid == ACCOUNT_SID and (user, password) in {(ACCOUNT_SID, AUTH_TOKEN), (API_KEY_SID, API_KEY_SECRET)}

    def app(self, environ, start_response):
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if request.method != "POST" or len(parts) != 4 or parts[:2] != ["2010-04-01", "Accounts"] or parts[3] != "Messages.json":
            return self._error(404, 20404, "The requested resource was not found")(environ, start_response)
        if not self._authorised(request, parts[2]):
            return self._error(401, 20003, "Authenticate")(environ, start_response)
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "server_error":
            return self._error(500, 20500, "Internal Server Error")(environ, start_response)
        form = request.form
        to, body = form.get("To", ""), form.get("Body", "")
        if not to or not body or not (form.get("From") or form.get("MessagingServiceSid")):
            return self._error(400, 21604, "A 'To' phone number is required.")(environ, start_response)
        if self.mode == "invalid_number":
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")(environ, start_response)
        sid = "SM" + uuid.uuid4().hex
        self.messages.append({"To": to, "Body": body, "From": form.get("From"),
                              "MessagingServiceSid": form.get("MessagingServiceSid")})
        resource = {
            "sid": sid, "account_sid": ACCOUNT_SID, "to": to, "from": form.get("From"), "body": body,
            "messaging_service_sid": form.get("MessagingServiceSid"), "status": "queued", "num_segments": "1",
            "direction": "outbound-api", "api_version": "2010-04-01", "price": None, "error_code": None,
            "error_message": None, "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
            "date_created": "Wed, 25 Nov 2026 08:00:00 +0000", "date_updated": "Wed, 25 Nov 2026 08:00:00 +0000",
            "date_sent": None, "subresource_uris": {},
        }
        return Response(json.dumps(resource), status=201, mimetype="application/json")(environ, start_response)
