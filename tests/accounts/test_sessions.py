"""SSO sessions end for good: a request that loaded one before it ended cannot bring it back."""

from __future__ import annotations

import pytest

from idp import clock
from idp.accounts.sessions import ACR_SINGLE_FACTOR, TOUCH_EVERY


@pytest.fixture
def opened(app, make_user):
    from idp.accounts.service import find_account

    make_user(username="phuong")
    with app.app_context():
        account_id = find_account("phuong").id
        sessions = app.extensions["idp"].sessions
        cookie, session = sessions.start(account_id, ["pwd"], ACR_SINGLE_FACTOR, False)
    return sessions, account_id, cookie, session


@pytest.mark.parametrize("write", ["touch", "add_client", "elevate"])
def test_a_write_from_a_request_that_raced_sign_out_everywhere_does_not_revive_the_session(app, opened, write):
    from idp.oidc.logout import sign_out_everywhere

    sessions, account_id, cookie, _ = opened
    with app.app_context():
        loaded = sessions.load(cookie)  # a request in flight holds the session ...
        sign_out_everywhere(account_id)  # ... while the person signs out everywhere
        changed = {"touch": lambda: sessions.touch(loaded),
                   "add_client": lambda: sessions.add_client(loaded, "selfcare"),
                   "elevate": lambda: sessions.elevate(loaded, "otp")}[write]()
        assert changed is not True
        assert sessions.load(cookie) is None
        assert not sessions.alive(loaded.sid)
        assert sessions.for_user(account_id) == []


def test_sites_signing_in_at_the_same_moment_are_all_remembered(app, opened):
    """Two authorization requests load the session at once; each adds its site: both stay known for logout."""
    sessions, _, cookie, session = opened
    with app.app_context():
        first, second = sessions.load(cookie), sessions.load(cookie)
        sessions.add_client(first, "site-a")
        sessions.add_client(second, "site-b")
        sessions.touch(first)
        assert sorted(sessions.sites_of(sessions.load(cookie))) == ["site-a", "site-b"]


def test_a_late_activity_touch_does_not_revive_an_ended_session(app, opened):
    sessions, account_id, cookie, session = opened
    with app.app_context():
        clock.travel(TOUCH_EVERY + 1)  # the next load writes last_seen back
        sessions.end(session.sid)
        assert sessions.load(cookie) is None
        assert sessions.get(session.sid) is None


def test_stepping_up_keeps_the_time_of_the_sign_in(app, opened):
    """A second factor alone does not make a sign-in fresh for actions that need one."""
    sessions, _, cookie, session = opened
    with app.app_context():
        clock.travel(900)
        loaded = sessions.load(cookie)
        assert sessions.elevate(loaded, "otp") is True
        again = sessions.load(cookie)
        assert again.auth_time == session.auth_time
        assert again.amr == ["pwd", "otp", "mfa"]


def test_keepalive_after_the_session_ended_says_signed_out(app, client, make_user):
    from idp.accounts.service import find_account
    from idp.oidc.logout import sign_out_everywhere

    from ..conftest import csrf_token
    from ..oidc.helpers import sign_in

    user = make_user(username="phuong2")
    sign_in(client, "phuong2", user["password"])
    token = csrf_token(client.get("/account?lang=en").get_data(as_text=True))
    with app.app_context():
        sign_out_everywhere(find_account("phuong2").id)
    answer = client.post("/account/keepalive", headers={"X-CSRFToken": token})
    assert answer.status_code == 401 and answer.get_json() == {"signed_in": False}
