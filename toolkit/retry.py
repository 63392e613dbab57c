"""How long a server asks a client to wait: the one reading of a ``Retry-After`` header, shared by the HTTP
clients (the LLM judge's and the fetchers')."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None when absent or unreadable.

    >>> retry_after("7"), retry_after(None), retry_after("soon")
    (7.0, None, None)
    >>> retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc))
    10.0
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now or datetime.now(timezone.utc)).timestamp())
