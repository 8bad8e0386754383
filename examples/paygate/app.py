"""Payment gateway: a payment goes through only after idp confirmed a second factor for it.

Pressing Pay stores the pending payment in the session, tied to the `state` of a
new authorization request with `acr_values=urn:idp:acr:multi-factor`. When that
request comes back, the payment is made only if the validated ID token's `acr`
is the multi-factor class and names the same person; otherwise it is refused.
Asking is not enough: whoever holds the browser can drop `acr_values` from the
request, so the answer (`acr`) is what counts.
"""

from __future__ import annotations

import hmac
import secrets
import time

from flask import g, redirect, session

from ..common import SITES, create_site, home_page, vnd

INFO = SITES["paygate"]
SCOPE = "openid profile"
MULTI_FACTOR = "urn:idp:acr:multi-factor"
AMOUNT = 150_000
PENDING_SECONDS = 600


def create_app(issuer: str, client_id: str, client_secret: str, base_url: str, **options):
    app, site = create_site(INFO, issuer, client_id, client_secret, base_url, SCOPE, **options)
    site.keep_on_sign_in = ("pending_payment", "payments")

    @app.get("/")
    @home_page(site)
    def home():
        return site.render("paygate.html", amount=vnd(AMOUNT), payments=session.get("payments", []))

    @app.post("/pay")
    def pay():
        site.check_csrf()
        if not g.user:
            return redirect("/login")
        response, state = site.authorize_redirect(acr_values=MULTI_FACTOR)
        session["pending_payment"] = {
            "state": state,
            "sub": g.user["sub"],
            "amount": AMOUNT,
            "reference": "PG-" + secrets.token_hex(4).upper(),
            "created_at": time.time(),
        }
        return response

    def refuse(reason: str):
        return site.message(f"{reason} Nothing was paid.", status=403, heading="Payment refused")

    def on_return(state: str, claims: dict | None, error) -> object | None:
        pending = session.pop("pending_payment", None)
        if pending is None or not hmac.compare_digest(pending["state"], state):
            return None  # an ordinary sign-in: a payment left pending is abandoned
        if time.time() - pending["created_at"] > PENDING_SECONDS:
            return refuse("The payment waited too long for its confirmation.")
        if claims is None:
            return refuse(f"The second step was not completed ({getattr(error, 'error', 'error')}).")
        if claims.get("acr") != MULTI_FACTOR:
            return refuse("This payment needs a second step (an authenticator app or an SMS code), "
                          "and the sign-in service confirmed only a password.")
        if claims["sub"] != pending["sub"]:
            return refuse("The confirmation was for another account.")
        done = {"reference": pending["reference"], "amount": vnd(pending["amount"])}
        session["payments"] = (session.get("payments", []) + [done])[-5:]
        session["notice"] = f"Payment done: {done['amount']}, reference {done['reference']}."
        return redirect("/")

    site.on_return = on_return
    return app
