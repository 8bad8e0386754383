"""Registration: normalised phone and e-mail, password policy, no half-made accounts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ..conftest import csrf_token


def register(client, **fields):
    page = client.get("/register?lang=en")
    form = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "username": "binh",
        "phone": "0987 654 321",
        "password": "Quiet-River-Stone-8",
        **fields,
    }
    return client.post("/register?lang=en", data={k: v for k, v in form.items() if v is not None})


def count_users(app) -> int:
    from idp.accounts.models import User
    from idp.extensions import db

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def test_registration_creates_a_normalised_account_and_signs_in(app, client):
    response = register(client, username="Binh.Tran", email="Binh@Example.COM", name=" Trần Bình ", marketing_consent="y")
    assert response.status_code == 302 and "idp_session=" in response.headers["Set-Cookie"]
    from idp.accounts.service import find_account

    with app.app_context():
        user = find_account("binh.tran")
        assert user.phone == "+84987654321"
        assert user.email == "binh@example.com"
        assert user.name == "Trần Bình"
        assert user.marketing_consent is True
        assert user.password_hash.startswith("$argon2id$")
        assert user.sub not in ("binh.tran", "+84987654321", "binh@example.com") and len(user.sub) >= 20
    assert "Hello" in client.get("/account?lang=en").get_data(as_text=True)


def test_marketing_consent_is_off_unless_ticked(app, client):
    register(client)
    from idp.accounts.service import find_account

    with app.app_context():
        assert find_account("binh").marketing_consent is False


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"password": "short1!"}, "Use at least 10 characters."),
        ({"password": "password123"}, "too easy to guess"),
        ({"password": "binh123456"}, "too easy to guess"),
        ({"password": "x" * 129}, "at most 128"),
        ({"phone": "12345"}, "not a valid mobile phone number"),
        ({"phone": None}, "Enter your mobile phone number."),
        ({"email": "not-an-email"}, "not a valid e-mail address"),
        ({"username": "1abc"}, "starting with a letter"),
        ({"username": "ab"}, "starting with a letter"),
        ({"username": "has space"}, "starting with a letter"),
        ({"username": "x" * 40}, "Field cannot be longer than 32 characters."),
    ],
)
def test_bad_input_is_explained_and_nothing_is_written(app, client, fields, message):
    response = register(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_users(app) == 0


def test_taken_username_is_said_so(app, client, make_user):
    make_user(username="binh")
    response = register(client, phone="0987 000 001")
    assert response.status_code == 400 and "This username is taken" in response.get_data(as_text=True)
    assert count_users(app) == 1


def test_existing_phone_or_email_is_not_confirmed_explicitly(app, client, make_user):
    make_user(username="other", phone="0987654321", email="used@example.com")
    by_phone = register(client)
    by_email = register(client, username="binh2", phone="0987 000 002", email="USED@example.com")
    for response in (by_phone, by_email):
        assert response.status_code == 400
        assert "We could not create an account with these details" in response.get_data(as_text=True)
    assert count_users(app) == 1


def test_registration_can_be_closed(backend):
    from idp import create_app

    app = create_app(backend.fresh_settings(accounts={"registration": False}), testing=True)
    assert app.test_client().get("/register").status_code == 404
