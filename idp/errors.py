"""Errors become a page for people and JSON for clients, never a bare 500."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .linking.directory import DirectoryUnavailable
from .store import StoreUnavailable

log = logging.getLogger(__name__)
HTTP_REASONS = {status.value: status.phrase for status in HTTPStatus}

API_PREFIXES = ("/token", "/introspect", "/revoke", "/userinfo", "/jwks.json", "/.well-known/", "/readyz", "/api/")


def _wants_json() -> bool:
    return request.path.startswith(API_PREFIXES)


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        403: _("You may not open this page."),
        404: _("This page does not exist."),
        405: _("This page cannot be used that way."),
        413: _("The request is too large."),
        429: _("Too many attempts. Please wait a moment and try again."),
        503: _("The service is briefly unavailable. Please try again in a moment."),
    }


ADMIN_API_PREFIX = "/api/admin/"


def problem(status: int, title: str, detail: str = "", **extra) -> Response:
    """An RFC 9457 problem document."""
    body = {"type": "about:blank", "title": title, "status": status, **({"detail": detail} if detail else {}), **extra}
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _respond(status: int, error: str, message: str):
    if request.path.startswith(ADMIN_API_PREFIX):
        # The admin API speaks RFC 9457 throughout, its framework errors included.
        return problem(status, HTTP_REASONS.get(status, "Error"), message)
    if _wants_json():
        return jsonify(error=error, error_description=message), status
    return render_template("errors/error.html", message=message), status


def _carries_nul() -> bool:
    """A NUL character anywhere in the query, the form or a JSON body (PostgreSQL refuses it in text)."""
    fields = [*request.args.lists(), *(request.form.lists() if request.method == "POST" else [])]
    if any("\x00" in key or any("\x00" in value for value in values) for key, values in fields):
        return True
    return request.is_json and b"\\u0000" in request.get_data(cache=True)


def init_errors(app: Flask, testing: bool = False) -> None:
    @app.before_request
    def refuse_nul():
        if _carries_nul():
            return _respond(400, "invalid_request", _messages()[400])

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _respond(400, "invalid_request", _("The form has expired. Please go back and try again."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        message = _messages().get(code, error.description or "")
        return _respond(code, "invalid_request" if code < 500 else "server_error", message)

    @app.errorhandler(DirectoryUnavailable)
    def directory_down(error):
        log.error("subscriber directory unavailable: %s", error)
        return _respond(503, "temporarily_unavailable", _messages()[503])

    @app.errorhandler(StoreUnavailable)
    def store_down(error):
        log.error("ephemeral store unavailable: %s", error)
        return _respond(503, "temporarily_unavailable", _messages()[503])

    if testing:
        return  # let tests see the real exception

    @app.errorhandler(Exception)
    def unexpected(error):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, "server_error", _("Something went wrong on our side. Please try again."))
