"""Demo data for trying idp on one machine: the three example sites, a customer, an admin and a contract."""

from __future__ import annotations

import json
import os
from pathlib import Path

import sqlalchemy as sa

from .accounts.models import User
from .accounts.service import find_account, register
from .admin.service import set_role
from .extensions import db
from .linking.importer import import_csv
from .linking.models import ContractLink
from .oidc.clients import ClientNotFound, create_client, find_client

CUSTOMER = ("demo", "Demo-Subscriber-2026", "+84901234567", "demo@example.com", "Nguyễn Văn Demo")
ADMIN = ("admin", "Demo-Operator-Admin-2026", "+84901234568", "admin@example.com", "Quản trị viên")
SITES = [
    # client_id, name, port, first-party, scopes
    ("selfcare", "Self-care", 5001, True, ["openid", "profile", "email", "phone", "contracts", "offline_access"]),
    ("wallet", "Wallet", 5002, True, ["openid", "profile", "email", "phone"]),
    ("paygate", "Payment gateway", 5003, False, ["openid", "profile"]),
]
CONTRACTS_CSV = (
    "number,holder_name,phone,branch,smartcards,device_codes,services\n"
    "QN-000123,Nguyễn Văn Demo,+84901234567,Quảng Ninh,8401 2345 6789,STB-DEMO1,"
    "K+|K+ Premium|active|2027-06-30;HD|Gói HD|active|2027-01-31;VOD|Phim truyện|suspended|\n"
    "QN-000124,Trần Thị Thử,+84901234569,Quảng Ninh,,STB-DEMO2,HD|Gói HD|active|2026-12-31\n"
)


def _person(username, password, phone, email, name) -> User:
    user = find_account(username) or register(username=username, password=password, phone=phone, email=email, name=name)
    user.phone_verified = True
    db.session.commit()
    return user


def seed(secrets_file: Path) -> dict:
    """Create what is missing (later runs change nothing) and write the sites' secrets to secrets_file."""
    saved = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
    for client_id, name, port, first_party, scopes in SITES:
        try:
            find_client(client_id)
            continue
        except ClientNotFound:
            pass
        site = f"http://127.0.0.1:{port}"
        _, secret = create_client(
            name, [f"{site}/callback"], [f"{site}/"], first_party=first_party, scopes=scopes, client_id=client_id,
            backchannel_logout_uri=f"{site}/backchannel-logout",
        )
        saved[client_id] = {"client_secret": secret, "port": port}
    customer = _person(*CUSTOMER)
    admin = _person(*ADMIN)
    if admin.role != "admin":
        set_role(admin, "admin", acting=None)
    import_csv(CONTRACTS_CSV)
    if not db.session.scalar(sa.select(ContractLink.id).where(ContractLink.contract_number == "QN000123")):
        db.session.add(ContractLink(contract_number="QN000123", user_id=customer.id, role="owner"))
        db.session.commit()
    secrets_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(saved, handle, indent=2)
    return {
        "clients": sorted(saved),
        "secrets_file": str(secrets_file),
        "customer": {"username": CUSTOMER[0], "password": CUSTOMER[1], "contract": "QN000123"},
        "admin": {"username": ADMIN[0], "password": ADMIN[1]},
    }
