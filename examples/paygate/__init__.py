"""The paygate example site: `python -m examples.paygate`."""

from .app import create_app

__all__ = ["create_app"]
