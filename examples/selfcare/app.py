"""Self-care: the person's contracts and the services on them, from idp's `contracts` claim (userinfo)."""

from __future__ import annotations

from flask import session

from ..common import SITES, create_site, home_page

INFO = SITES["selfcare"]
SCOPE = "openid profile email phone contracts"
MAX_CONTRACTS, MAX_SERVICES = 5, 8  # the session is a cookie (4 KB): the rest is at idp
STATUS_LABELS = {"active": "Active", "suspended": "Suspended", "expired": "Expired", "cancelled": "Cancelled"}


def contracts_from(userinfo: dict) -> list[dict] | None:
    """What the page shows of the `contracts` claim (the session is a cookie: keep it small); None if not given."""
    if "contracts" not in userinfo:
        return None
    contracts = []
    for contract in userinfo.get("contracts") or []:
        if not isinstance(contract, dict):
            continue
        services = [
            {
                "name": str(service.get("name") or service.get("code") or ""),
                "status": str(service.get("status") or ""),
                "expires_at": service.get("expires_at") or None,
            }
            for service in contract.get("services") or []
            if isinstance(service, dict)
        ]
        contracts.append({"number": str(contract.get("number", "")), "services": services[:MAX_SERVICES],
                          "more_services": max(0, len(services) - MAX_SERVICES)})
    return contracts[:MAX_CONTRACTS]


def create_app(issuer: str, client_id: str, client_secret: str, base_url: str, **options):
    app, site = create_site(INFO, issuer, client_id, client_secret, base_url, SCOPE, **options)

    def remember_contracts(claims, userinfo):
        session["contracts"] = contracts_from(userinfo)
        session["more_contracts"] = max(0, len(userinfo.get("contracts") or []) - MAX_CONTRACTS)

    site.on_sign_in = remember_contracts

    @app.get("/")
    @home_page(site)
    def home():
        return site.render(
            "selfcare.html",
            contracts=session.get("contracts"),
            more_contracts=session.get("more_contracts", 0),
            status_labels=STATUS_LABELS,
            link_url=site.issuer + "/account/contracts",
        )

    @app.get("/refresh")
    def refresh():
        """Linked a contract at idp just now? Ask again (single sign-on: no form) for fresh claims."""
        session["next"] = "/"
        response, _state = site.authorize_redirect()
        return response

    return app
