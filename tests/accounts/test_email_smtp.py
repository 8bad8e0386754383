"""Confirmation e-mail through a real SMTP conversation with a server on 127.0.0.1."""

from __future__ import annotations

import re
import socket

import pytest
from aiosmtpd.controller import Controller

from idp import create_app

from ..conftest import csrf_token
from ..oidc.helpers import sign_in


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:  # aiosmtpd needs the port up front
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def change_email(app, address):
    from idp.accounts.service import register

    with app.app_context():
        register(username="thao", password="Quiet-River-Stone-8", phone="0912 444 777")
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(client, "thao", "Quiet-River-Stone-8")
    page = client.get("/account/profile")
    return client, client.post("/account/profile", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                        "action": "details", "email": address})


def test_the_link_goes_out_over_smtp_and_confirms(backend, smtp):
    inbox, port = smtp
    app = create_app(backend.fresh_settings(mail={"sender": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port,
                                                  "smtp_starttls": False, "from_address": "idp@example.vn"}), testing=True)
    client, response = change_email(app, "thao@example.vn")
    assert "We sent a link to thao@example.vn" in response.get_data(as_text=True)
    ((sender, recipients, content),) = inbox.messages
    assert sender == "idp@example.vn" and recipients == ["thao@example.vn"]
    path = re.search(r"http://localhost(/account/email/[\w-]+)", content).group(1)
    assert client.get(path).status_code == 200


def test_smtp_down_is_said_on_the_page(backend):
    app = create_app(backend.fresh_settings(mail={"sender": "smtp", "smtp_host": "127.0.0.1", "smtp_port": 1,
                                                  "smtp_starttls": False, "from_address": "idp@example.vn"}), testing=True)
    _, response = change_email(app, "thao@example.vn")
    assert "could not send a confirmation e-mail right now" in response.get_data(as_text=True)
