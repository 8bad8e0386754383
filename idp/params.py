"""Numbers from query strings and forms, read strictly.

`str.isdigit()` accepts "²" and "١٢" (which int() then refuses or reads as
another number), and a 30-digit id overflows a database integer: both used to
be 500s. Only ASCII digits, at most nine of them, fit every integer column.
"""

from __future__ import annotations

import re

_SMALL_INT = re.compile(r"[0-9]{1,9}")


def small_int(raw: str | None) -> int | None:
    """The number written in raw, or None when raw is not a plain non-negative number below 10⁹."""
    if raw is None or not _SMALL_INT.fullmatch(raw):
        return None
    return int(raw)
