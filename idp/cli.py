"""The `idp` command: thin wrappers that parse, call a service and print (text or --json)."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click
import sqlalchemy as sa

from .config import SUPPORTED_ALGS, ConfigError, generate_config_text, load_settings



class CliFailure(Exception):
    """A command cannot do what was asked; the message is the one line to print."""


def _fail(message: str):
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def command_errors(fn):
    """Turn expected failures into one line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .accounts.service import AccountError, PasswordRejected
        from .linking.importer import ImportRejected
        from .oidc.clients import ClientError, ClientNotFound
        from .store import StoreUnavailable

        try:
            return fn(*args, **kwargs)
        except ConfigError as error:
            _fail(f"configuration: {error}")
        except (CliFailure, ClientError) as error:
            _fail(str(error))
        except ClientNotFound as error:
            _fail(f"no client with id {error}")
        except PasswordRejected as error:
            _fail(f"password rejected: {error.reason.replace('_', ' ')}")
        except AccountError as error:
            _fail(_account_error_text(error))
        except StoreUnavailable as error:
            _fail(f"ephemeral store unavailable: {error}")
        except ImportRejected as rejected:
            line, problem = rejected.problems[0]
            _fail(f"contracts not imported: {problem}" + (f" (line {line})" if line else ""))
        except UnicodeError:
            _fail("standard input is not UTF-8 text")
        except sa.exc.SQLAlchemyError as error:
            first = str(error.orig if getattr(error, "orig", None) else error).splitlines()[0]
            _fail(f"database: {first} (is it migrated? run `idp db upgrade`)")

    return wrapper


def _audit(event: str, **details) -> None:
    """What an operator did from the command line goes into the audit log like the console's actions."""
    from . import audit

    audit.record(event, admin="cli", **details)


def _account_error_text(error) -> str:
    from .accounts import service

    texts = {
        service.InvalidUsername: "username must be 3-32 letters, digits, '.', '-' or '_', starting with a letter",
        service.InvalidEmail: "not a valid e-mail address",
        service.InvalidPhone: "not a valid phone number",
        service.UsernameTaken: "that username is taken",
        service.AccountExists: "that e-mail or phone already belongs to an account",
    }
    return texts.get(type(error), type(error).__name__)


def _app():
    from . import create_app

    return create_app(load_settings())


def _emit(as_json: bool, data, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


def _read_password_stdin() -> str:
    password = sys.stdin.buffer.readline().decode("utf-8").rstrip("\r\n")  # strict: no lone surrogates
    if not password:
        raise CliFailure("no password on standard input")
    return password


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group()
def main():
    """idp: OpenID Connect identity provider for subscription operators."""


# config ------------------------------------------------------------------------

@main.group()
def config():
    """Configuration files."""


@config.command("init")
@click.option("--path", default="instance/idp.toml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--database-url", default=None, help="Default: an SQLite file next to the config.")
@click.option("--issuer", default="http://127.0.0.1:5000", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@json_option
@command_errors
def config_init(path, database_url, issuer, force, as_json):
    """Write a config file with freshly generated secrets."""
    target = Path(path)
    if target.exists() and not force:
        raise CliFailure(f"{target} exists (use --force to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    database_url = database_url or f"sqlite:///{(target.parent / 'idp.sqlite3').resolve()}"
    text = generate_config_text(database_url, issuer=issuer, dev=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    load_settings(target, env={})  # prove it is valid
    _emit(as_json, {"path": str(target)}, f"wrote {target}")


@config.command("check")
@json_option
@command_errors
def config_check(as_json):
    """Validate the configuration (IDP_CONFIG and IDP_* variables)."""
    settings = load_settings()
    _emit(as_json, {"ok": True, "issuer": settings.server.issuer}, f"ok: issuer {settings.server.issuer}")


# db -----------------------------------------------------------------------------

@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
@json_option
@command_errors
def db_upgrade(as_json):
    """Apply every migration, then make sure signing keys exist."""
    from flask_migrate import upgrade

    from .extensions import runtime
    from .oidc.keys import ensure_keys

    app = _app()
    with app.app_context():
        upgrade()
        ensure_keys(runtime().settings)
    _emit(as_json, {"ok": True}, "database is up to date")


# serve ---------------------------------------------------------------------------

@main.command()
@click.option("--host", default=None, help="Default: server.host.")
@click.option("--port", default=None, type=int, help="Default: server.port.")
@click.option("--workers", default=None, type=int, help="Default: server.workers.")
@command_errors
def serve(host, port, workers):
    """Serve with gunicorn."""
    from gunicorn.app.base import BaseApplication

    settings = load_settings()
    bind = f"{host or settings.server.host}:{port or settings.server.port}"

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers or settings.server.workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("forwarded_allow_ips", "*" if settings.server.proxy_hops else "127.0.0.1")

        def load(self):
            from . import create_app

            return create_app(settings)

    Server().run()


# clients ----------------------------------------------------------------------------

@main.group()
def clients():
    """Relying-party clients."""


@clients.command("add")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_uris", multiple=True)
@click.option("--public", is_flag=True, help="No secret; PKCE required (mobile and browser apps).")
@click.option("--first-party", is_flag=True, help="The operator's own site: no consent page.")
@click.option("--scope", "scopes", multiple=True, help="Allowed scope (repeat). Default: openid profile email phone.")
@click.option("--client-credentials", is_flag=True, help="Also allow the client_credentials grant.")
@click.option("--id-token-alg", type=click.Choice(SUPPORTED_ALGS), default=None)
@click.option("--client-id", default=None, help="Choose the client id (default: random).")
@click.option("--backchannel-logout-uri", default=None, help="Where logout tokens are POSTed (Back-Channel Logout).")
@click.option("--frontchannel-logout-uri", default=None, help="Loaded in an iframe at logout (Front-Channel Logout).")
@json_option
@command_errors
def clients_add(name, redirect_uris, post_logout_uris, public, first_party, scopes, client_credentials, id_token_alg,
                client_id, backchannel_logout_uri, frontchannel_logout_uri, as_json):
    """Register a client; its secret is printed once."""
    from .oidc.clients import create_client, describe

    with _app().app_context():
        client, secret = create_client(
            name,
            list(redirect_uris),
            list(post_logout_uris),
            public=public,
            first_party=first_party,
            scopes=[s for scope in scopes for s in scope.split()] or None,
            client_credentials=client_credentials,
            id_token_alg=id_token_alg,
            client_id=client_id,
            backchannel_logout_uri=backchannel_logout_uri,
            frontchannel_logout_uri=frontchannel_logout_uri,
        )
        data = {**describe(client), "client_secret": secret}
        _audit("admin.client_created", client_id=client.client_id)
    text = f"client_id: {data['client_id']}"
    if secret:
        text += f"\nclient_secret: {secret}\n(the secret is shown only now)"
    _emit(as_json, data, text)


@clients.command("list")
@json_option
@command_errors
def clients_list(as_json):
    """List clients."""
    from .oidc.clients import describe, list_clients

    with _app().app_context():
        rows = [describe(c) for c in list_clients()]
    text = "\n".join(
        "\t".join(
            [r["client_id"], r["name"], "public" if r["public"] else "confidential"]
            + (["first-party"] if r["first_party"] else [])
            + (["disabled"] if r["disabled"] else [])
        )
        for r in rows
    ) or "no clients"
    _emit(as_json, rows, text)


@clients.command("show")
@click.argument("client_id")
@json_option
@command_errors
def clients_show(client_id, as_json):
    """Show one client."""
    from .oidc.clients import describe, find_client

    with _app().app_context():
        data = describe(find_client(client_id))
    _emit(as_json, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@clients.command("rotate-secret")
@click.argument("client_id")
@json_option
@command_errors
def clients_rotate_secret(client_id, as_json):
    """Give a client a new secret (the old one stops working now)."""
    from .oidc.clients import rotate_secret

    with _app().app_context():
        secret = rotate_secret(client_id)
        _audit("admin.client_secret_rotated", client_id=client_id)
    _emit(as_json, {"client_id": client_id, "client_secret": secret}, f"client_secret: {secret}\n(the secret is shown only now)")


@clients.command("remove")
@click.argument("client_id")
@json_option
@command_errors
def clients_remove(client_id, as_json):
    """Remove a client and revoke its tokens."""
    from .oidc.clients import remove_client

    with _app().app_context():
        remove_client(client_id)
        _audit("admin.client_deleted", client_id=client_id)
    _emit(as_json, {"removed": client_id}, f"removed {client_id}")


# users --------------------------------------------------------------------------------

def _describe_user(user) -> dict:
    return {
        "sub": user.sub,
        "username": user.username,
        "email": user.email,
        "phone": user.phone,
        "name": user.name,
        "locked": user.locked,
        "created_at": user.created_at.isoformat(),
    }


def _find_user(identifier: str):
    from .accounts.service import find_account

    user = find_account(identifier)
    if user is None:
        raise CliFailure(f"no account matches {identifier}")
    return user


@main.group()
def users():
    """Customer accounts."""


@users.command("add")
@click.option("--username", required=True)
@click.option("--email", default=None)
@click.option("--phone", default=None)
@click.option("--name", default=None)
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@json_option
@command_errors
def users_add(username, email, phone, name, password_stdin, as_json):
    """Create an account (password from standard input)."""
    from .accounts.service import register

    password = _read_password_stdin()
    with _app().app_context():
        user = register(username=username, password=password, phone=phone, email=email, name=name)
        data = _describe_user(user)
    _emit(as_json, data, f"created {data['username']} (sub {data['sub']})")


@users.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
@command_errors
def users_list(limit, as_json):
    """List accounts, newest first."""
    import sqlalchemy as sa

    from .accounts.models import User
    from .extensions import db as database

    with _app().app_context():
        rows = [
            _describe_user(u)
            for u in database.session.scalars(sa.select(User).order_by(User.created_at.desc(), User.id.desc()).limit(limit))
        ]
    text = "\n".join(
        "\t".join([r["username"], r["phone"] or "-", r["email"] or "-"] + (["locked"] if r["locked"] else []))
        for r in rows
    ) or "no accounts"
    _emit(as_json, rows, text)


def _set_lock(identifier: str, locked: bool, as_json: bool) -> None:
    from .accounts.service import set_locked

    with _app().app_context():
        user = _find_user(identifier)
        set_locked(user, locked)
        data = _describe_user(user)
    _emit(as_json, data, f"{'locked' if locked else 'unlocked'} {data['username']}")


@users.command("lock")
@click.argument("identifier")
@json_option
@command_errors
def users_lock(identifier, as_json):
    """Lock an account (username, e-mail or phone): it can no longer sign in or get tokens."""
    _set_lock(identifier, True, as_json)


@users.command("unlock")
@click.argument("identifier")
@json_option
@command_errors
def users_unlock(identifier, as_json):
    """Unlock an account."""
    _set_lock(identifier, False, as_json)


@users.command("set-role")
@click.argument("identifier")
@click.argument("role", type=click.Choice(["admin", "support", "none"]))
@json_option
@command_errors
def users_set_role(identifier, role, as_json):
    """Give an account a staff role for the admin console (admin, support) or take it away (none)."""
    from .admin.service import set_role

    with _app().app_context():
        user = _find_user(identifier)
        set_role(user, None if role == "none" else role, acting="cli")
        data = {"username": user.username, "role": user.role}
    _emit(as_json, data, f"{data['username']}: role {data['role'] or 'none'}")


@users.command("set-password")
@click.argument("identifier")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@json_option
@command_errors
def users_set_password(identifier, password_stdin, as_json):
    """Set an account's password (from standard input); the account is signed out everywhere."""
    from .accounts.service import set_password
    from .oidc.logout import sign_out_everywhere

    password = _read_password_stdin()
    with _app().app_context():
        user = _find_user(identifier)
        set_password(user, password)
        sign_out_everywhere(user.id)
        _audit("password.reset", account=user.sub)
        data = {"username": user.username, "password_changed": True}
    _emit(as_json, data, f"password changed for {data['username']}")


# keys -------------------------------------------------------------------------------------

@main.group()
def keys():
    """Signing keys."""


def _describe_key(key) -> dict:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "created_at": key.created_at.isoformat(),
        "activates_at": key.activates_at.isoformat(),
        "retired_at": key.retired_at.isoformat() if key.retired_at else None,
    }


@keys.command("rotate")
@click.option("--alg", "algs", multiple=True, type=click.Choice(SUPPORTED_ALGS), help="Default: every algorithm.")
@click.option("--now", "immediately", is_flag=True, help="Sign with the new key at once (after a key leak).")
@json_option
@command_errors
def keys_rotate(algs, immediately, as_json):
    """Create new signing keys; old ones stay published until their tokens expire."""
    from .extensions import runtime
    from .oidc.keys import rotate

    with _app().app_context():
        created = [_describe_key(k) for k in rotate(runtime().settings, tuple(algs) or SUPPORTED_ALGS, immediately)]
        _audit("admin.keys_rotated", kids=[k["kid"] for k in created], immediately=immediately)
    _emit(as_json, created, "\n".join(f"{k['alg']}\t{k['kid']}\tsigns from {k['activates_at']}" for k in created))


@keys.command("list")
@json_option
@command_errors
def keys_list(as_json):
    """List signing keys."""
    from .oidc.keys import list_keys

    with _app().app_context():
        rows = [_describe_key(k) for k in list_keys()]
    _emit(
        as_json,
        rows,
        "\n".join(f"{k['alg']}\t{k['kid']}\t{'retired ' + k['retired_at'] if k['retired_at'] else 'current'}" for k in rows)
        or "no keys",
    )


# audit ------------------------------------------------------------------------------------

@main.group()
def audit():
    """The audit log of security events."""


@audit.command("tail")
@click.option("-n", "--lines", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--account", default=None, help="Only this account (username, e-mail or phone).")
@click.option("--event", default=None, help="Only this event, e.g. signin.failed.")
@json_option
@command_errors
def audit_tail(lines, account, event, as_json):
    """The newest audit events, oldest first."""
    from . import audit as audit_log

    if event is not None and event not in audit_log.EVENTS:
        raise CliFailure(f"unknown event {event} (known: {', '.join(audit_log.EVENTS)})")
    with _app().app_context():
        sub = _find_user(account).sub if account else None
        rows = [audit_log.describe(r) for r in reversed(audit_log.recent(lines, account=sub, event=event))]
    _emit(
        as_json,
        rows,
        "\n".join(
            "\t".join([r["at"], r["event"], r["account"] or "-", r["ip"] or "-", r["client_id"] or "-",
                       json.dumps(r["details"], ensure_ascii=False)])
            for r in rows
        ) or "no events",
    )


# contracts ------------------------------------------------------------------------------

@main.group()
def contracts():
    """Subscriber contracts (the table directory)."""


@contracts.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@json_option
@command_errors
def contracts_import(csv_file, as_json):
    """Import contracts from CSV: every row is checked, and nothing is imported unless all are good.

    Columns: number, holder_name, phone, branch, smartcards, device_codes, services
    (smartcards and device codes separated by ';'; services as code|name|status|expires;...).
    """
    from .linking.importer import ImportRejected, import_csv

    try:
        text = Path(csv_file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise CliFailure(f"cannot read {csv_file}: {error}") from None
    with _app().app_context():
        try:
            counts = import_csv(text)
        except ImportRejected as rejected:
            if as_json:
                click.echo(json.dumps({"imported": False, "problems": [{"line": n, "problem": p} for n, p in rejected.problems]}, indent=2))
                sys.exit(2)
            for line, problem in rejected.problems[:50]:
                click.echo(f"line {line}: {problem}", err=True)
            more = len(rejected.problems) - 50
            _fail(f"nothing imported: {len(rejected.problems)} bad rows" + (f" ({more} more not shown)" if more > 0 else ""))
    _emit(as_json, {"imported": True, **counts}, f"imported: {counts['created']} new, {counts['updated']} updated")


@contracts.command("show")
@click.argument("number")
@json_option
@command_errors
def contracts_show(number, as_json):
    """A contract, its current owner and its link history."""
    import sqlalchemy as sa

    from .accounts.models import User
    from .extensions import db as database
    from .extensions import runtime
    from .linking.directory import normalize_key
    from .linking.models import ContractLink

    number = normalize_key(number)
    with _app().app_context():
        records = runtime().directory.get_many([number])
        if not records:
            raise CliFailure(f"no contract {number}")
        record = records[0]
        history = []
        for link in database.session.scalars(
            sa.select(ContractLink).where(ContractLink.contract_number == number).order_by(ContractLink.linked_at)
        ):
            user = database.session.get(User, link.user_id) if link.user_id else None
            history.append({
                "account": user.username if user else None,
                "linked_at": link.linked_at.isoformat(),
                "ended_at": link.ended_at.isoformat() if link.ended_at else None,
                "ended_reason": link.ended_reason,
            })
    data = {
        "number": record.number, "holder_name": record.holder_name, "phone": record.phone, "branch": record.branch,
        "services": [s.__dict__ for s in record.services], "links": history,
    }
    owner = next((h["account"] for h in history if h["ended_at"] is None), None)
    _emit(as_json, data, f"{record.number}\t{record.holder_name}\t{record.phone}\towner: {owner or '-'}\n" + "\n".join(
        f"  {h['linked_at']}  {h['account'] or '-'}  {('ended ' + h['ended_at'] + ' (' + h['ended_reason'] + ')') if h['ended_at'] else 'current'}"
        for h in history))


# demo ---------------------------------------------------------------------------------------

@main.group()
def demo():
    """Demo data for trying idp on one machine."""


@demo.command("seed")
@click.option("--secrets-file", default="instance/demo-clients.json", show_default=True, type=click.Path(dir_okay=False))
@json_option
@command_errors
def demo_seed(secrets_file, as_json):
    """Create the three demo sites, a customer with a contract and an admin (once; later runs change nothing)."""
    from .demo import seed

    with _app().app_context():
        data = seed(Path(secrets_file))
    _emit(
        as_json,
        data,
        f"demo clients: {', '.join(data['clients'])} (secrets in {data['secrets_file']})\n"
        f"customer: {data['customer']['username']} / {data['customer']['password']} (contract {data['customer']['contract']})\n"
        f"admin:    {data['admin']['username']} / {data['admin']['password']} (confirms by SMS: see /dev/outbox)",
    )
