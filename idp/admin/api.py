"""The admin JSON API (/api/admin/v1) for the operator's scripts.

Callers are clients using the client_credentials grant with the `admin` scope;
errors are RFC 9457 problem details.
"""

from __future__ import annotations

import datetime
import functools

import sqlalchemy as sa
from flask import Blueprint, Response, g, request

from .. import audit
from ..accounts.models import User
from ..errors import problem
from ..extensions import csrf, db, runtime
from ..linking.directory import normalize_key
from ..linking.importer import MAX_CSV_BYTES, ImportRejected, import_csv, parse_row, save_contracts
from ..linking.models import Contract, ContractKey, ContractLink
from ..oidc import clients as client_service
from ..oidc import keys as key_service
from ..oidc import storage
from ..oidc.clients import ADMIN_SCOPE
from ..params import small_int
from . import service
from .openapi import document

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin/v1")
csrf.exempt(bp)

def admin_token(view):
    """A bearer access token from client_credentials with the admin scope."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        token = storage.get_access_token(header[7:].strip()) if header[:7].lower() == "bearer " else None
        if token is None:
            return problem(401, "Unauthorized", "A valid bearer token is required.")
        if token.user_id is not None or ADMIN_SCOPE not in token.scope.split():
            return problem(403, "Forbidden", "The token needs the admin scope from the client_credentials grant.")
        g.admin_client_id = token.client_id
        return view(*args, **kwargs)

    return wrapper


def _contract_json(contract: Contract) -> dict:
    keys = db.session.scalars(sa.select(ContractKey).where(ContractKey.contract_id == contract.id)).all()
    owner = db.session.scalar(sa.select(ContractLink).where(
        ContractLink.contract_number == contract.number, ContractLink.ended_at.is_(None)))
    return {
        "number": contract.number,
        "holder_name": contract.holder_name,
        "phone": contract.phone,
        "branch": contract.branch,
        "smartcards": [k.value for k in keys if k.kind == "smartcard"],
        "device_codes": [k.value for k in keys if k.kind == "device"],
        "services": contract.services or [],
        "linked": owner is not None,
    }


def _find(number: str) -> Contract | None:
    return db.session.scalar(sa.select(Contract).where(Contract.number == normalize_key(number)))


@bp.route("/contracts/<number>", methods=["GET"])
@admin_token
def get_contract(number):
    contract = _find(number)
    if contract is None:
        return problem(404, "Not Found", f"No contract {normalize_key(number)}.")
    return _contract_json(contract)


@bp.route("/contracts/<number>", methods=["PUT"])
@admin_token
def put_contract(number):
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return problem(400, "Bad Request", "The body must be a JSON object.")
    services = data.get("services", [])
    if not isinstance(services, list) or not all(isinstance(s, dict) for s in services):
        return problem(422, "Unprocessable Content", "services must be a list of objects.")
    for name in ("smartcards", "device_codes"):
        if not isinstance(data.get(name) or [], list) or not all(isinstance(v, str) for v in data.get(name) or []):
            return problem(422, "Unprocessable Content", f"{name} must be a list of strings.")
    for name in ("holder_name", "phone", "branch"):
        if not isinstance(data.get(name) or "", str):
            return problem(422, "Unprocessable Content", f"{name} must be a string.")
    row = {
        "number": number,
        "holder_name": str(data.get("holder_name") or ""),
        "phone": str(data.get("phone") or ""),
        "branch": str(data.get("branch") or ""),
        "smartcards": ";".join(data.get("smartcards") or []),
        "device_codes": ";".join(data.get("device_codes") or []),
        "services": ";".join(
            f"{s.get('code', '')}|{s.get('name', '')}|{s.get('status', '')}|{s.get('expires_at') or ''}" for s in services
        ),
    }
    try:
        parsed = parse_row(row)
        counts = save_contracts([parsed])
    except ValueError as error:
        return problem(422, "Unprocessable Content", str(error))
    except ImportRejected as rejected:
        return problem(409, "Conflict", rejected.problems[0][1])
    audit.record("admin.contract_saved", admin=f"client:{g.admin_client_id}", contract=parsed.number,
                 created=bool(counts["created"]))
    return _contract_json(_find(parsed.number))


@bp.route("/contracts/<number>", methods=["DELETE"])
@admin_token
def delete_contract(number):
    contract = _find(number)
    if contract is None:
        return problem(404, "Not Found", f"No contract {normalize_key(number)}.")
    service.delete_contract(contract, acting=f"client:{g.admin_client_id}")
    return Response(status=204)


@bp.route("/contracts/import", methods=["POST"])
@admin_token
def import_contracts():
    if request.content_length and request.content_length > MAX_CSV_BYTES:
        return problem(413, "Content Too Large", "Send at most 5 MB of CSV per request.")
    try:
        text = request.get_data(as_text=False).decode("utf-8-sig")
    except UnicodeDecodeError:
        return problem(400, "Bad Request", "The body must be UTF-8 CSV.")
    try:
        counts = import_csv(text)
    except ImportRejected as rejected:
        return problem(422, "Unprocessable Content", f"Nothing imported: {len(rejected.problems)} bad rows.",
                       errors=[{"line": line, "detail": detail} for line, detail in rejected.problems])
    audit.record("admin.contracts_imported", admin=f"client:{g.admin_client_id}", **counts)
    return {"imported": True, **counts}


# Pagination ----------------------------------------------------------------------------------

def _limit() -> int:
    limit = small_int(request.args.get("limit"))
    return min(max(limit, 1), 200) if limit is not None else 50


def _cursor() -> int | None:
    return small_int(request.args.get("cursor"))


def _search_page(found: list, limit: int, describe) -> dict:
    """A page of search results (at most service.PAGE_SIZE matches in all); the cursor counts results."""
    start = _cursor() or 0
    page = found[start:start + limit]
    more = start + limit < len(found)
    return {"items": [describe(item) for item in page], "next_cursor": str(start + limit) if more else None}


def _page(items: list, key, limit: int) -> dict:
    """Cursor pagination: `next_cursor` is the key of the last item when there may be more."""
    return {"items": items, "next_cursor": str(key(items[-1])) if len(items) == limit else None}


# Accounts --------------------------------------------------------------------------------------

def _account_summary(user: User) -> dict:
    return {"sub": user.sub, "username": user.username, "name": user.name, "email": user.email,
            "phone": user.phone, "locked": user.locked, "role": user.role, "created_at": user.created_at.isoformat()}


def _find_account(sub: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.sub == sub)) if len(sub) <= 32 else None


@bp.route("/accounts", methods=["GET"])
@admin_token
def list_accounts():
    limit, cursor, query = _limit(), _cursor(), request.args.get("q", "")[:254]
    if query:
        return _search_page(service.search_accounts(query), limit, _account_summary)
    statement = sa.select(User).order_by(User.id).limit(limit)
    if cursor:
        statement = statement.where(User.id > cursor)
    users = list(db.session.scalars(statement))
    page = _page(users, lambda u: u.id, limit)
    page["items"] = [_account_summary(u) for u in users]
    return page


@bp.route("/accounts/<sub>", methods=["GET"])
@admin_token
def get_account(sub):
    user = _find_account(sub)
    if user is None:
        return problem(404, "Not Found", "No such account.")
    detail = service.account_detail(user)
    return {
        **_account_summary(user),
        "email_verified": user.email_verified, "phone_verified": user.phone_verified,
        "must_change_password": user.must_change_password, "two_step": detail["has_totp"],
        "identities": [{"provider": i.provider, "email": i.email} for i in detail["identities"]],
        "contracts": [link.contract_number for link in detail["links"] if link.ended_at is None],
        "sessions": len(detail["sessions"]),
    }


ACCOUNT_ACTIONS = {
    "lock": service.lock,
    "unlock": service.unlock,
    "end-sessions": service.end_sessions,
    "require-password-change": service.require_password_change,
    "remove-authenticator": service.remove_factor,
}


@bp.route("/accounts/<sub>/<action>", methods=["POST"])
@admin_token
def account_action(sub, action):
    user = _find_account(sub)
    if user is None:
        return problem(404, "Not Found", "No such account.")
    if action not in ACCOUNT_ACTIONS:
        return problem(404, "Not Found", f"No action {action[:40]}.")
    ACCOUNT_ACTIONS[action](user, f"client:{g.admin_client_id}")
    return get_account(sub)


# Clients ------------------------------------------------------------------------------------------

def _settings(data: dict, current: client_service.ClientSettings | None = None) -> client_service.ClientSettings:
    base = current or client_service.ClientSettings("", [])
    fields = {f: data[f] for f in ("name", "redirect_uris", "post_logout_redirect_uris", "first_party", "scopes",
                                    "client_credentials", "id_token_alg", "backchannel_logout_uri",
                                    "frontchannel_logout_uri") if f in data}
    for name in ("redirect_uris", "post_logout_redirect_uris", "scopes"):
        if name in fields and (not isinstance(fields[name], list) or not all(isinstance(v, str) for v in fields[name])):
            raise client_service.ClientError(f"{name} must be a list of strings")
    for name in ("first_party", "client_credentials"):
        if name in fields and not isinstance(fields[name], bool):
            raise client_service.ClientError(f"{name} must be true or false")
    for name in ("name", "id_token_alg", "backchannel_logout_uri", "frontchannel_logout_uri"):
        if name in fields and not isinstance(fields[name], (str, type(None))):
            raise client_service.ClientError(f"{name} must be a string")
    return client_service.ClientSettings(**{**base.__dict__, **fields})


@bp.route("/clients", methods=["GET"])
@admin_token
def list_clients():
    return {"items": [client_service.describe(c) for c in client_service.list_clients()], "next_cursor": None}


@bp.route("/clients", methods=["POST"])
@admin_token
def create_client():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return problem(400, "Bad Request", "The body must be a JSON object.")
    try:
        wanted = _settings(data)
        client, secret = client_service.create_client(
            wanted.name, wanted.redirect_uris, wanted.post_logout_redirect_uris, public=data.get("public") is True,
            first_party=wanted.first_party, scopes=wanted.scopes, client_credentials=wanted.client_credentials,
            id_token_alg=wanted.id_token_alg, backchannel_logout_uri=wanted.backchannel_logout_uri,
            frontchannel_logout_uri=wanted.frontchannel_logout_uri,
        )
    except (client_service.ClientError, TypeError) as error:
        return problem(422, "Unprocessable Content", str(error))
    audit.record("admin.client_created", client_id=client.client_id, admin=f"client:{g.admin_client_id}")
    return {**client_service.describe(client), "client_secret": secret}, 201


@bp.route("/clients/<client_id>", methods=["GET", "PUT", "DELETE"])
@admin_token
def one_client(client_id):
    try:
        client = client_service.find_client(client_id)
    except client_service.ClientNotFound:
        return problem(404, "Not Found", "No such client.")
    if request.method == "GET":
        return client_service.describe(client)
    if request.method == "DELETE":
        client_service.remove_client(client_id)
        audit.record("admin.client_deleted", client_id=client_id, admin=f"client:{g.admin_client_id}")
        return Response(status=204)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return problem(400, "Bad Request", "The body must be a JSON object.")
    try:
        client = client_service.update_client(client_id, _settings(data, client_service.settings_of(client)))
    except (client_service.ClientError, TypeError) as error:
        return problem(422, "Unprocessable Content", str(error))
    audit.record("admin.client_updated", client_id=client_id, admin=f"client:{g.admin_client_id}")
    return client_service.describe(client)


@bp.route("/clients/<client_id>/secret", methods=["POST"])
@admin_token
def rotate_secret(client_id):
    try:
        secret = client_service.rotate_secret(client_id)
    except client_service.ClientNotFound:
        return problem(404, "Not Found", "No such client.")
    except client_service.ClientError as error:
        return problem(409, "Conflict", str(error))
    audit.record("admin.client_secret_rotated", client_id=client_id, admin=f"client:{g.admin_client_id}")
    return {"client_id": client_id, "client_secret": secret}


# Contracts (listing) ----------------------------------------------------------------------------------

@bp.route("/contracts", methods=["GET"])
@admin_token
def list_contracts():
    limit, cursor, query = _limit(), _cursor(), request.args.get("q", "")[:64]
    if query:
        return _search_page(service.find_contracts(query), limit, _contract_json)
    statement = sa.select(Contract).order_by(Contract.id).limit(limit)
    if cursor:
        statement = statement.where(Contract.id > cursor)
    contracts = list(db.session.scalars(statement))
    page = _page(contracts, lambda c: c.id, limit)
    page["items"] = [_contract_json(c) for c in contracts]
    return page


# Keys --------------------------------------------------------------------------------------------------------

def _key_json(key) -> dict:
    return {"kid": key.kid, "alg": key.alg, "activates_at": key.activates_at.isoformat(),
            "retired_at": key.retired_at.isoformat() if key.retired_at else None}


@bp.route("/keys", methods=["GET"])
@admin_token
def list_keys():
    return {"items": [_key_json(k) for k in key_service.list_keys()], "next_cursor": None}


@bp.route("/keys/rotate", methods=["POST"])
@admin_token
def rotate_keys():
    created = key_service.rotate(runtime().settings)
    runtime().keyring.invalidate()
    audit.record("admin.keys_rotated", admin=f"client:{g.admin_client_id}", kids=[k.kid for k in created])
    return {"items": [_key_json(k) for k in created], "next_cursor": None}


# Audit --------------------------------------------------------------------------------------------------------

def _when(name: str) -> datetime.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    value = datetime.datetime.fromisoformat(raw)
    value = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable instant
        raise ValueError(f"{name} is out of range") from None


@bp.route("/audit", methods=["GET"])
@admin_token
def audit_events():
    limit = _limit()
    try:
        since, until = _when("since"), _when("until")
    except ValueError:
        return problem(400, "Bad Request", "since and until must be ISO 8601 dates or times.")
    rows = service.audit_query(
        account=request.args.get("account") or None, event=request.args.get("event") or None,
        client_id=request.args.get("client_id") or None, ip=request.args.get("ip") or None,
        since=since, until=until, before_id=_cursor(), limit=limit,
    )
    page = _page(rows, lambda r: r.id, limit)
    page["items"] = [audit.describe(r) for r in rows]
    return page


@bp.route("/openapi.json", methods=["GET"])
def openapi():
    return document(runtime().settings.server.issuer)
