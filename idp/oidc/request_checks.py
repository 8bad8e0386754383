"""Checks the protocol endpoints run before Authlib sees a request.

RFC 6749 §3.1: a parameter must not appear twice (a second `prompt` or `code`
must not slip past the one that was checked). §2.3: a client uses one way to
authenticate per request. And credentials that are not UTF-8 are simply
wrong credentials, not a server error.
"""

from __future__ import annotations

import base64
import binascii
import json

from flask import Response, request


def repeated_parameter(values) -> str | None:
    """The name of the first parameter given more than once, if any."""
    for name, given in values.lists():
        if len(given) > 1:
            return name[:64]
    return None


def _basic_credentials_undecodable() -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        base64.b64decode(encoded.strip(), validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return True
    return False


def _oauth_error(status: int, error: str, description: str) -> Response:
    response = Response(json.dumps({"error": error, "error_description": description}), status=status,
                        mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="idp"'
    return response


def client_request_problem() -> Response | None:
    """An OAuth error response for a malformed token, introspection or revocation request, or None."""
    repeated = repeated_parameter(request.form)
    if repeated:
        return _oauth_error(400, "invalid_request", f"The parameter '{repeated}' is given more than once.")
    if request.headers.get("Authorization", "").lower().startswith("basic ") and "client_secret" in request.form:
        return _oauth_error(400, "invalid_request", "Use one way of client authentication, not two.")
    if _basic_credentials_undecodable():
        return _oauth_error(401, "invalid_client", "The client credentials cannot be read.")
    return None
