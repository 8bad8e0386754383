"""The wallet example site: `python -m examples.wallet`."""

from .app import create_app

__all__ = ["create_app"]
