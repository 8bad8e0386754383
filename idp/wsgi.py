"""WSGI entry point for any server: `gunicorn 'idp.wsgi:app'` or `granian --interface wsgi idp.wsgi:app`."""

from . import create_app

app = create_app()
