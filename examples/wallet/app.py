"""Wallet: a balance, top-up and history. All fake: the balance is computed from the person's `sub`."""

from __future__ import annotations

import hashlib

from flask import g

from ..common import SITES, create_site, home_page, vnd

INFO = SITES["wallet"]
SCOPE = "openid profile"
TOP_UPS = [50_000, 100_000, 200_000, 500_000]
HISTORY = [
    ("2026-03-02", "Top-up at a counter", 200_000),
    ("2026-02-28", "K+ Premium, March", -180_000),
    ("2026-02-14", "Pay-per-view film", -45_000),
    ("2026-02-01", "Top-up by bank card", 500_000),
]


def balance_of(sub: str) -> int:
    """A made-up balance in đồng, the same for a person every time: under 2.000.000 ₫, in thousands."""
    digest = hashlib.sha256(sub.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 2_000 * 1_000


def create_app(issuer: str, client_id: str, client_secret: str, base_url: str, **options):
    app, site = create_site(INFO, issuer, client_id, client_secret, base_url, SCOPE, **options)

    @app.get("/")
    @home_page(site)
    def home():
        return site.render(
            "wallet.html",
            balance=vnd(balance_of(g.user["sub"])) if g.user else None,
            top_ups=[vnd(a) for a in TOP_UPS],
            history=[(day, text, vnd(amount), amount > 0) for day, text, amount in HISTORY],
        )

    return app
