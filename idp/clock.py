"""The one source of the current time, so tests can move it instead of sleeping."""

import time

_offset = 0.0


def now() -> float:
    """Seconds since the epoch, as the whole application sees them."""
    return time.time() + _offset


def travel(seconds: float) -> None:
    """Move the application's clock forward (tests only)."""
    global _offset
    _offset += seconds


def reset() -> None:
    """Put the application's clock back to real time (tests only)."""
    global _offset
    _offset = 0.0


def utcnow():
    """The application's current time as an aware UTC datetime."""
    import datetime

    return datetime.datetime.fromtimestamp(now(), datetime.UTC)
