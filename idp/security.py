"""Response headers every page and endpoint gets."""

from flask import Flask, request

# Endpoints that browsers of other origins call directly (SPAs, mobile web views).
CORS_PATHS = {
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/jwks.json",
    "/token",
    "/userinfo",
    "/revoke",
}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; "
    # Front-channel logout loads the relying parties' logout pages in iframes.
    "frame-src http: https:"
)


def init_security(app: Flask) -> None:
    @app.after_request
    def secure_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # Codes and tokens travel in URLs; never leak them to other sites.
        headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            headers.setdefault("X-Frame-Options", "DENY")
            headers.setdefault("Cache-Control", "no-store")
        if request.path in CORS_PATHS:
            headers["Access-Control-Allow-Origin"] = "*"
            headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response
