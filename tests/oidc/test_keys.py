"""Signing keys: encrypted at rest, published before use, kept until their tokens expire."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import KeySet

from idp import clock
from idp.extensions import runtime
from idp.oidc.keys import activation_delay

from .helpers import signed_in_tokens


@pytest.fixture
def rp(make_client):
    return make_client(first_party=True)


def kids(client, alg="RS256") -> set[str]:
    return {k["kid"] for k in client.get("/jwks.json").get_json()["keys"] if k["alg"] == alg}


def _header(tokens) -> dict:
    return json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[0] + "=="))


def rotate(app, immediately=False):
    from idp.extensions import runtime
    from idp.oidc.keys import rotate as rotate_keys

    with app.app_context():
        return [k.kid for k in rotate_keys(runtime().settings, ("RS256",), immediately)]


def test_private_keys_are_encrypted_at_rest(app):
    from idp.oidc.models import SigningKey
    from idp.extensions import db

    with app.app_context():
        for row in db.session.scalars(sa.select(SigningKey)):
            assert row.private_encrypted.startswith("gAAAA")  # Fernet token
            assert '"d"' not in row.private_encrypted and '"d"' not in json.dumps(row.public_jwk)


def test_rotation_publishes_first_signs_later_and_keeps_the_old_key(app, client, rp, make_user):
    user = make_user()
    before = signed_in_tokens(client, rp, user)
    old_kid = _header(before)["kid"]
    (new_kid,) = rotate(app)
    with app.app_context():
        runtime().keyring.invalidate()  # as every process does within keys.reload_seconds

    # Published at once, but not signing until every process has published it and every
    # relying party's cached copy of the JWKS without it has gone stale.
    assert {old_kid, new_kid} <= kids(client)
    assert _header(signed_in_tokens(client, rp, user))["kid"] == old_kid
    with app.app_context():
        delay = activation_delay(runtime().settings)
    clock.travel(delay - 5)
    with app.app_context():
        runtime().keyring.invalidate()
    assert _header(signed_in_tokens(client, rp, user))["kid"] == old_kid
    assert delay >= 2 * 30 + int(client.get("/jwks.json").headers["Cache-Control"].split("max-age=")[1])

    clock.travel(6)
    after = signed_in_tokens(client, rp, user)
    assert _header(after)["kid"] == new_kid
    keys = KeySet.import_key_set(client.get("/jwks.json").get_json())
    assert jwt.decode(before["id_token"], keys).claims["sub"] == user["sub"]  # still verifiable

    clock.travel(3600 + 31)  # every ID token the old key signed has expired
    assert old_kid not in kids(client) and new_kid in kids(client)


def test_immediate_rotation_signs_with_the_new_key_at_once(app, client, rp, make_user):
    user = make_user()
    (new_kid,) = rotate(app, immediately=True)
    clock.travel(31)
    assert _header(signed_in_tokens(client, rp, user))["kid"] == new_kid


def test_wrong_encryption_key_is_a_clear_error(backend):
    from idp import create_app
    from idp.extensions import runtime
    from idp.crypto import CannotDecrypt

    app = create_app(backend.fresh_settings(keys={"encryption_key": "A" * 43 + "="}), testing=True)
    with app.app_context(), pytest.raises(CannotDecrypt, match="keys.encryption_key"):
        runtime().keyring.signing_key("RS256")
