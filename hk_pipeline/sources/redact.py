"""Keeping credentials out of messages and logs: query parameters named like secrets.

Providers may one day take a token as a query parameter (``?token=...``, ``apikey=...``);
every URL the HTTP layer puts in an error message goes through :func:`redact_url` first.
"""

from __future__ import annotations

import re

import httpx

SECRET_NAMES = re.compile(r"token|key|secret|passw|signature|sig$|auth|credential", re.I)
MASK = "***"


def redact_url(url: httpx.URL | str) -> str:
    """``url`` with the value of every secret-looking query parameter replaced by ``***``."""
    parsed = httpx.URL(str(url))
    if not parsed.query:
        return str(parsed)
    params = [
        (name, MASK if SECRET_NAMES.search(name) else value)
        for name, value in parsed.params.multi_items()
    ]
    return str(parsed.copy_with(params=params)).replace("%2A%2A%2A", MASK)
