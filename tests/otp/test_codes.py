"""SMS codes: lifetime, tries, purpose binding, single use, resend cool-down and the anti-pumping caps."""

from __future__ import annotations

import pytest

from idp import clock
from idp.otp import codes

PHONE = "+84912345678"


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def send(purpose="verify_phone", subject="user:1", phone=PHONE, ip="203.0.113.5", **kwargs):
    return codes.send_code(purpose, subject, phone, "Your code: {code}", ip=ip, **kwargs)


def latest_code(app, phone=PHONE) -> str:
    from idp.extensions import runtime

    message = next(m for m in runtime().sms.recent() if m["to"] == phone)
    return message["body"].rsplit(" ", 1)[1]


def test_a_code_works_once(ctx):
    sent = send()
    assert sent.masked_phone == "+84 ••• ••• 678" and sent.expires_in == 360 and sent.resend_in == 60
    code = latest_code(ctx)
    assert len(code) == 6 and code.isdigit()
    assert codes.verify_code("verify_phone", "user:1", code) == PHONE
    with pytest.raises(codes.CodeInvalid):
        codes.verify_code("verify_phone", "user:1", code)  # replayed


def test_the_code_is_stored_only_as_a_keyed_hash(ctx):
    from idp.extensions import runtime

    send()
    record = runtime().store.get("otp:verify_phone:user:1")
    assert latest_code(ctx) not in str(record) and len(record["digest"]) == 64


def test_code_expires_after_six_minutes(ctx):
    send()
    code = latest_code(ctx)
    clock.travel(361)
    with pytest.raises(codes.CodeInvalid):
        codes.verify_code("verify_phone", "user:1", code)


def test_five_wrong_tries_void_the_code(ctx):
    send()
    code = latest_code(ctx)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(codes.CodeInvalid):
            codes.verify_code("verify_phone", "user:1", wrong)
    with pytest.raises(codes.TooManyTries):
        codes.verify_code("verify_phone", "user:1", wrong)
    with pytest.raises(codes.CodeInvalid):
        codes.verify_code("verify_phone", "user:1", code)  # even the right one, now


def test_a_code_is_bound_to_its_purpose_and_subject(ctx):
    send(purpose="reset_password", subject="ticket-1")
    code = latest_code(ctx)
    with pytest.raises(codes.CodeInvalid):
        codes.verify_code("verify_phone", "ticket-1", code)
    with pytest.raises(codes.CodeInvalid):
        codes.verify_code("reset_password", "ticket-2", code)
    assert codes.verify_code("reset_password", "ticket-1", code) == PHONE


def test_resend_waits_a_minute_and_replaces_the_old_code(ctx):
    send()
    first = latest_code(ctx)
    with pytest.raises(codes.ResendTooSoon) as too_soon:
        send()
    assert 55 <= too_soon.value.retry_after <= 60
    clock.travel(61)
    send()
    second = latest_code(ctx)
    if first != second:
        with pytest.raises(codes.CodeInvalid):
            codes.verify_code("verify_phone", "user:1", first)
    assert codes.verify_code("verify_phone", "user:1", second) == PHONE


def test_destination_outside_the_allowed_countries_is_refused(ctx):
    from idp import audit

    with pytest.raises(codes.SendBlocked) as blocked:
        send(phone="+447700900123")
    assert blocked.value.reason == "country"
    assert audit.recent(1, event="code.blocked")[0].details["reason"] == "country"


def test_daily_cap_per_phone(ctx):
    for n in range(10):
        send(subject=f"user:{n}")
    with pytest.raises(codes.SendBlocked) as blocked:
        send(subject="user:99")
    assert blocked.value.reason == "limit"


def test_hourly_cap_per_ip(ctx):
    for n in range(20):
        send(subject=f"s{n}", phone=f"+849123{n:05d}")
    with pytest.raises(codes.SendBlocked):
        send(subject="s-last", phone="+84987000000")
    send(subject="s-other-ip", phone="+84987000000", ip="198.51.100.1")


def test_hourly_cap_per_number_prefix(backend):
    from idp import create_app

    app = create_app(backend.fresh_settings(sms={"sender": "outbox", "per_prefix_per_hour": 3}), testing=True)
    with app.app_context():
        for n in range(3):
            send(subject=f"s{n}", phone=f"+8491234{n:04d}", ip=f"10.0.0.{n}")
        with pytest.raises(codes.SendBlocked):
            send(subject="s9", phone="+8491234" + "9999", ip="10.0.0.9")
        send(subject="s10", phone="+8498765" + "0000", ip="10.0.0.10")


def test_few_unverified_numbers_per_owner(ctx):
    for n in range(3):
        send(subject=f"n{n}", phone=f"+849300000{n:02d}", owner="acct-1", unverified=True)
    send(subject="n0-again", phone="+84930000000", owner="acct-1", unverified=True)  # a number already counted
    with pytest.raises(codes.SendBlocked):
        send(subject="n3", phone="+84930000003", owner="acct-1", unverified=True)
    # A refused number is not thereby "reached": asking again is refused again.
    for attempt in range(3):
        with pytest.raises(codes.SendBlocked):
            send(subject=f"n3-{attempt}", phone="+84930000003", owner="acct-1", unverified=True)


def test_daily_budget_stops_sends_with_audit_and_metric(backend):
    from idp import audit, create_app

    app = create_app(backend.fresh_settings(sms={"sender": "outbox", "daily_budget": 2}), testing=True)
    client = app.test_client()
    with app.app_context():
        send(subject="a", phone="+84911000001", ip="10.0.0.1")
        send(subject="b", phone="+84911000002", ip="10.0.0.2")
        with pytest.raises(codes.SendBlocked) as blocked:
            send(subject="c", phone="+84911000003", ip="10.0.0.3")
        assert blocked.value.reason == "budget"
        assert audit.recent(1, event="sms.budget_reached")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "idp_sms_budget_exhausted 1.0" in metrics and "idp_sms_daily_budget 2.0" in metrics


def test_failed_send_leaves_no_valid_code(backend):
    from idp import audit, create_app
    from idp.extensions import runtime

    app = create_app(backend.fresh_settings(sms={"sender": "none"}), testing=True)
    with app.app_context():
        with pytest.raises(codes.CodeNotSent):
            send()
        assert runtime().store.get("otp:verify_phone:user:1") is None
        assert audit.recent(1, event="code.send_failed")


def test_code_with_spaces_is_accepted(ctx):
    send()
    code = latest_code(ctx)
    assert codes.verify_code("verify_phone", "user:1", f" {code[:3]} {code[3:]} ") == PHONE


def test_texts_go_without_diacritics_to_fit_one_segment(ctx):
    from idp.extensions import runtime

    codes.send_code("verify_phone", "user:7", PHONE, "Mã xác nhận của bạn: {code}. Đừng chia sẻ.", ip="203.0.113.5")
    body = runtime().sms.recent()[0]["body"]
    assert body.startswith("Ma xac nhan cua ban: ") and body.endswith(". Dung chia se.")
    assert body.isascii()
