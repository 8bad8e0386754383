"""What a person may do with their own data: see every site and device, download it all, delete the account."""

from __future__ import annotations

import sqlalchemy as sa

from .. import audit, clock
from ..extensions import db, runtime
from ..federation.service import identities_of
from ..linking.models import ContractLink
from ..oidc import storage
from ..oidc.logout import sign_out_everywhere
from . import mfa
from .models import User
from .service import NeedsFreshSignIn
from .sessions import SsoSession, is_fresh


def export_data(user: User) -> dict:
    """Everything idp holds about the person, as plain JSON (no secrets, no hashes)."""
    sessions = runtime().sessions.for_user(user.id)
    return {
        "account": {
            "sub": user.sub, "username": user.username, "name": user.name, "email": user.email,
            "email_verified": user.email_verified, "phone": user.phone, "phone_verified": user.phone_verified,
            "locale": user.locale, "marketing_consent": user.marketing_consent,
            "created_at": user.created_at.isoformat(), "updated_at": user.updated_at.isoformat(),
            "has_password": bool(user.password_hash), "two_step": mfa.has_totp(user),
        },
        "sign_in_with": [
            {"provider": i.provider, "email": i.email, "name": i.name, "linked_at": i.created_at.isoformat()}
            for i in identities_of(user)
        ],
        "contracts": [
            {"number": link.contract_number, "role": link.role, "linked_at": link.linked_at.isoformat(),
             "ended_at": link.ended_at.isoformat() if link.ended_at else None, "ended_reason": link.ended_reason}
            for link in db.session.scalars(sa.select(ContractLink).where(ContractLink.user_id == user.id))
        ],
        "sites_allowed": [
            {"client_id": consent.client_id, "name": client.name if client else None, "scopes": consent.scopes.split(),
             "granted_at": consent.granted_at.isoformat()}
            for consent, client in storage.consents_of(user.id)
        ],
        "sessions": [
            {"ip": s.ip, "user_agent": s.user_agent, "signed_in_at": int(s.auth_time), "last_seen": int(s.last_seen),
             "sites": runtime().sessions.sites_of(s)}
            for s in sessions
        ],
        "security_events": [_own_part(audit.describe(row)) for row in audit.recent(1000, account=user.sub)],
    }


def _own_part(event: dict) -> dict:
    """An event someone else caused on the account (staff, a contract taken over) names where it came
    from and who did it: that is the other person's data, not the account holder's."""
    details = event["details"]
    if "admin" in details or "by" in details:
        return {**event, "ip": None, "user_agent": None,
                "details": {key: value for key, value in details.items() if key not in ("admin", "by")}}
    return event


def delete_account(user: User, session: SsoSession) -> None:
    """Delete the account: sessions, tokens, links and identities go; audit rows keep only the opaque sub."""
    if not is_fresh(session):
        raise NeedsFreshSignIn()
    sub = user.sub
    sign_out_everywhere(user.id)
    db.session.execute(
        sa.update(ContractLink)
        .where(ContractLink.user_id == user.id, ContractLink.ended_at.is_(None))
        .values(ended_at=clock.utcnow(), ended_reason="account_deleted")
    )
    db.session.delete(user)  # identities, consents, refresh tokens and factors go with it (ON DELETE CASCADE)
    db.session.commit()
    audit.record("account.deleted", account=sub)
    audit.forget(sub)
