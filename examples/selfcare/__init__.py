"""The selfcare example site: `python -m examples.selfcare`."""

from .app import create_app

__all__ = ["create_app"]
