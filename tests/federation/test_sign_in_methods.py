"""Ways into an account: changing them needs a recent sign-in, and never leaves none, even when two
requests race."""

from __future__ import annotations

import re
import threading

import pytest

from idp import clock

from ..conftest import LiveServer, csrf_token
from ..oidc.flows import Browser
from ..oidc.helpers import sign_in


def with_identity(app, make_user, username):
    from idp.extensions import db
    from idp.federation.models import Identity

    user = make_user(username=username)
    with app.app_context():
        db.session.add(Identity(user_id=user["id"], provider="google", subject=f"google-{username}"))
        db.session.commit()
    return user


def test_a_stale_session_cannot_remove_the_password_unlink_or_link(app, client, make_user):
    from idp.accounts.models import User
    from idp.extensions import db
    from idp.federation.models import Identity

    user = with_identity(app, make_user, "holder")
    sign_in(client, "holder", user["password"])
    clock.travel(11 * 60)  # still signed in, but not recently
    page = client.get("/account/sign-in-methods?lang=en").get_data(as_text=True)
    identity_id = re.search(r'name="unlink" value="(\d+)"', page).group(1)
    for fields in ({"action": "remove_password"}, {"unlink": identity_id}):
        refused = client.post("/account/sign-in-methods?lang=en", data={"csrf_token": csrf_token(page), **fields})
        assert refused.status_code == 400 and "please sign in again first" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, user["id"]).password_hash
        assert db.session.scalar(db.select(db.func.count()).select_from(Identity)) == 1


def test_linking_a_new_way_in_needs_a_recent_sign_in(backend):
    from idp import create_app

    app = create_app(backend.fresh_settings(federation={"providers": [{
        "name": "partner", "kind": "oidc", "label": "Partner ID", "client_id": "downstream", "client_secret": "s",
        "discovery_url": "http://127.0.0.1:9/.well-known/openid-configuration"}]}), testing=True)
    from idp.accounts.service import register

    with app.app_context():
        register(username="linker", password="Long-Enough-Passw0rd!", phone="+84912777000")
    client = app.test_client()
    sign_in(client, "linker", "Long-Enough-Passw0rd!")
    clock.travel(11 * 60)
    client.get("/account")
    stale = client.get("/federation/partner/start?link=1")
    assert stale.status_code == 302 and stale.headers["Location"].startswith("/login?next=/federation/partner/start")


@pytest.fixture
def server(backend):
    live = LiveServer(backend)
    yield live
    live.stop()


def test_two_requests_at_once_cannot_remove_both_ways_in(server):
    """Unlink the only identity and remove the password at the same moment: one must be refused."""
    from idp.accounts.models import User
    from idp.accounts.service import register
    from idp.extensions import db
    from idp.federation.models import Identity

    for n in range(6):
        with server.app.app_context():
            user = register(username=f"racer{n}", password="Long-Enough-Passw0rd!", phone=f"+849120{n:05d}")
            db.session.add(Identity(user_id=user.id, provider="google", subject=f"g-{n}"))
            db.session.commit()
            user_id = user.id
        browser = Browser(server.url)
        browser.sign_in(browser.get("/login"), f"racer{n}", "Long-Enough-Passw0rd!")
        page = browser.get("/account/sign-in-methods").text
        token, identity_id = csrf_token(page), re.search(r'name="unlink" value="(\d+)"', page).group(1)
        barrier = threading.Barrier(2)

        def post(fields):
            barrier.wait()
            browser.post("/account/sign-in-methods", {"csrf_token": token, **fields})

        threads = [threading.Thread(target=post, args=(fields,))
                   for fields in ({"unlink": identity_id}, {"action": "remove_password"})]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with server.app.app_context():
            left = (1 if db.session.get(User, user_id).password_hash else 0) + db.session.scalar(
                db.select(db.func.count()).select_from(Identity).where(Identity.user_id == user_id))
        assert left >= 1, f"attempt {n}: no way in is left"
