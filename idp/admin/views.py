"""The admin console (/admin): a signed-in account with a role, a second factor in this session,
and a fresh sign-in for destructive actions."""

from __future__ import annotations

import datetime
import functools

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from .. import audit, clock
from ..accounts.models import User
from ..accounts.sessions import ACR_MULTI_FACTOR, is_fresh
from ..accounts.web import current_session
from ..extensions import db, runtime
from ..linking.importer import MAX_CSV_BYTES, ImportRejected, parse_csv, save_contracts
from ..oidc import clients as client_service
from ..oidc import keys as key_service
from ..params import small_int
from . import service

bp = Blueprint("admin", __name__, url_prefix="/admin")


def staff(roles=service.ROLES, destructive=False):
    """Allow accounts with one of `roles`, a second factor in this session, and for destructive
    actions a sign-in less than ten minutes old."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            sso = current_session()
            user = db.session.get(User, sso.user_id) if sso else None
            here = request.full_path.rstrip("?")
            if user is None or user.locked:
                return redirect(url_for("accounts.login", next=here))
            if user.role not in roles:
                _forbidden(user, request.endpoint)
            if user.must_change_password:
                return redirect(url_for("account.password", next=here))
            if destructive and not is_fresh(sso):
                return redirect(url_for("accounts.login", next=here, login_hint=user.username))
            if sso.acr != ACR_MULTI_FACTOR:
                return redirect(url_for("accounts.step_up", next=here))
            g.admin, g.sso = user, sso
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _forbidden(user: User, what: str):
    """Refuse, and keep a record: staff trying what their role does not allow is worth knowing."""
    audit.record("admin.forbidden", account=user.sub, role=user.role, attempted=what[:64])
    abort(403)


def _form_ok() -> bool:
    return FlaskForm().validate_on_submit()


@bp.route("")
@staff()
def overview():
    return render_template("admin/overview.html", figures=service.overview())


# Accounts ---------------------------------------------------------------------------------

@bp.route("/accounts")
@staff()
def accounts():
    query = request.args.get("q", "")[:254]
    return render_template("admin/accounts.html", users=service.search_accounts(query), q=query)


@bp.route("/accounts/<sub>", methods=["GET", "POST"])
@staff()
def account(sub):
    user = db.session.scalar(db.select(User).where(User.sub == sub))
    if user is None:
        abort(404)
    if request.method == "POST":
        if not _form_ok():
            abort(400)
        action = request.form.get("action", "")
        acting = g.admin.sub
        is_admin = g.admin.role == "admin"
        support_actions = {"lock": service.lock, "unlock": service.unlock, "end_sessions": service.end_sessions}
        admin_actions = {"remove_factor": service.remove_factor, "require_password_change": service.require_password_change,
                         "set_role": lambda target, by: service.set_role(target, request.form.get("role") or None, by)}
        # Support helps customers; only admins act on staff accounts or take factors and roles.
        if action not in support_actions and action not in admin_actions:
            abort(400)
        if not is_admin and (action in admin_actions or user.role is not None):
            _forbidden(g.admin, f"{action} on {user.role or 'customer'}")
        if action in admin_actions and not is_fresh(g.sso):
            here = url_for("admin.account", sub=sub)
            return redirect(url_for("accounts.login", next=here, login_hint=g.admin.username))
        try:
            {**support_actions, **admin_actions}[action](user, acting)
        except service.UnknownRole:
            abort(400)
        return redirect(url_for("admin.account", sub=sub))
    return render_template("admin/account.html", detail=service.account_detail(user), form=FlaskForm(),
                           is_admin=g.admin.role == "admin", now=clock.now())


# Clients ------------------------------------------------------------------------------------

def _settings_from_form(form) -> client_service.ClientSettings:
    lines = lambda name: [v.strip() for v in form.get(name, "").splitlines() if v.strip()]  # noqa: E731
    return client_service.ClientSettings(
        name=form.get("name", ""),
        redirect_uris=lines("redirect_uris"),
        post_logout_redirect_uris=lines("post_logout_redirect_uris"),
        first_party=bool(form.get("first_party")),
        scopes=form.get("scopes", "").split(),
        client_credentials=bool(form.get("client_credentials")),
        id_token_alg=form.get("id_token_alg") or None,
        backchannel_logout_uri=form.get("backchannel_logout_uri", "").strip() or None,
        frontchannel_logout_uri=form.get("frontchannel_logout_uri", "").strip() or None,
    )


@bp.route("/clients")
@staff()
def clients():
    return render_template("admin/clients.html", clients=client_service.list_clients())


@bp.route("/clients/new", methods=["GET", "POST"])
@staff(roles=("admin",))
def new_client():
    error = None
    if request.method == "POST" and _form_ok():
        wanted = _settings_from_form(request.form)
        try:
            client, secret = client_service.create_client(
                wanted.name, wanted.redirect_uris, wanted.post_logout_redirect_uris, public=bool(request.form.get("public")),
                first_party=wanted.first_party, scopes=wanted.scopes, client_credentials=wanted.client_credentials,
                id_token_alg=wanted.id_token_alg, backchannel_logout_uri=wanted.backchannel_logout_uri,
                frontchannel_logout_uri=wanted.frontchannel_logout_uri,
            )
        except client_service.ClientError as failed:
            error = str(failed)
        else:
            audit.record("admin.client_created", client_id=client.client_id, admin=g.admin.sub)
            return render_template("admin/client_secret.html", client=client, secret=secret)
    settings = _settings_from_form(request.form) if request.method == "POST" else client_service.ClientSettings("", [])
    return render_template("admin/client_form.html", client=None, settings=settings, error=error, form=FlaskForm(),
                           algs=client_service.SUPPORTED_ALGS), (400 if error else 200)


@bp.route("/clients/<client_id>", methods=["GET", "POST"])
@staff(roles=("admin",))
def edit_client(client_id):
    try:
        client = client_service.find_client(client_id)
    except client_service.ClientNotFound:
        abort(404)
    error = None
    if request.method == "POST" and _form_ok():
        action = request.form.get("action", "save")
        if action == "save":
            try:
                client_service.update_client(client_id, _settings_from_form(request.form))
            except client_service.ClientError as failed:
                error = str(failed)
            else:
                audit.record("admin.client_updated", client_id=client_id, admin=g.admin.sub)
                return redirect(url_for("admin.edit_client", client_id=client_id))
        elif action in ("disable", "enable"):
            client_service.set_disabled(client_id, action == "disable")
            audit.record("admin.client_updated", client_id=client_id, admin=g.admin.sub, disabled=action == "disable")
            return redirect(url_for("admin.edit_client", client_id=client_id))
    settings = _settings_from_form(request.form) if error else client_service.settings_of(client)
    return render_template("admin/client_form.html", client=client, settings=settings, error=error, form=FlaskForm(),
                           algs=client_service.SUPPORTED_ALGS), (400 if error else 200)


@bp.route("/clients/<client_id>/secret", methods=["POST"])
@staff(roles=("admin",), destructive=True)
def rotate_client_secret(client_id):
    if not _form_ok():
        abort(400)
    try:
        secret = client_service.rotate_secret(client_id)
    except (client_service.ClientNotFound, client_service.ClientError):
        abort(404)
    audit.record("admin.client_secret_rotated", client_id=client_id, admin=g.admin.sub)
    return render_template("admin/client_secret.html", client=client_service.find_client(client_id), secret=secret)


@bp.route("/clients/<client_id>/delete", methods=["POST"])
@staff(roles=("admin",), destructive=True)
def delete_client(client_id):
    if not _form_ok():
        abort(400)
    try:
        client_service.remove_client(client_id)
    except client_service.ClientNotFound:
        abort(404)
    audit.record("admin.client_deleted", client_id=client_id, admin=g.admin.sub)
    return redirect(url_for("admin.clients"))


# Contracts --------------------------------------------------------------------------------------


@bp.route("/contracts", methods=["GET", "POST"])
@staff()
def contracts():
    query = request.args.get("q", "")[:64]
    preview = problems = None
    imported = None
    if request.method == "POST" and g.admin.role == "admin" and _form_ok():
        text = request.form.get("csv", "")
        upload = request.files.get("file")
        if upload and upload.filename:
            text = upload.read(MAX_CSV_BYTES).decode("utf-8-sig", errors="replace")
        try:
            rows = parse_csv(text)
        except ImportRejected as rejected:
            problems = rejected.problems
        else:
            if request.form.get("action") == "import":
                try:
                    imported = save_contracts(rows)
                    audit.record("admin.contracts_imported", admin=g.admin.sub, **imported)
                except ImportRejected as rejected:
                    problems = rejected.problems
            else:
                preview = {"rows": rows, "csv": text}
    return render_template("admin/contracts.html", contracts=service.find_contracts(query), q=query, preview=preview,
                           problems=problems, imported=imported, form=FlaskForm(), is_admin=g.admin.role == "admin"), (
        422 if problems else 200)


@bp.route("/contracts/<number>")
@staff()
def contract(number):
    records = runtime().directory.get_many([number])
    if not records:
        abort(404)
    return render_template("admin/contract.html", record=records[0], history=service.contract_history(number),
                           form=FlaskForm(), is_admin=g.admin.role == "admin")


@bp.route("/contracts/<number>/release", methods=["POST"])
@staff(roles=("admin",), destructive=True)
def release_contract(number):
    if not _form_ok():
        abort(400)
    service.release_contract(number, g.admin.sub)
    return redirect(url_for("admin.contract", number=number))


# Keys -----------------------------------------------------------------------------------------------

@bp.route("/keys")
@staff(roles=("admin",))
def keys():
    return render_template("admin/keys.html", keys=key_service.list_keys(), form=FlaskForm())


@bp.route("/keys/rotate", methods=["POST"])
@staff(roles=("admin",), destructive=True)
def rotate_keys():
    if not _form_ok():
        abort(400)
    created = key_service.rotate(runtime().settings)
    runtime().keyring.invalidate()
    audit.record("admin.keys_rotated", admin=g.admin.sub, kids=[k.kid for k in created])
    return redirect(url_for("admin.keys"))


# Audit log ------------------------------------------------------------------------------------------

def _day(value: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.UTC) if value else None
    except ValueError:
        return None


@bp.route("/audit")
@staff()
def audit_log():
    args = request.args
    filters = {
        "account": args.get("account", "")[:254] or None, "event": args.get("event") or None,
        "client_id": args.get("client_id", "")[:64] or None, "ip": args.get("ip", "")[:45] or None,
        "since": _day(args.get("since")), "until": _day(args.get("until")),
    }
    if args.get("format") == "csv":
        rows = service.audit_query(**filters, limit=10000)
        audit.record("admin.audit_exported", admin=g.admin.sub, rows=len(rows))
        return Response(service.audit_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
    rows = service.audit_query(**filters, before_id=small_int(args.get("before")))
    next_args = {**args.to_dict(), "before": rows[-1].id} if len(rows) == service.PAGE_SIZE else None
    return render_template("admin/audit.html", rows=rows, args=args, events=audit.EVENTS, next_args=next_args,
                           describe=audit.describe)
