"""The envelopes real feeds wrap their answers in, unwrapped or refused with a clear message.

What a body can be, besides the answer itself, and what happens:

- **gzip** with ``Content-Encoding: gzip``: httpx decodes it before we see it. A gzip body
  served *without* that header (or compressed twice) still starts with the gzip magic bytes:
  it is decompressed here; a gzip stream that ends early is "cut short".
- **a UTF-8 byte-order mark** (``EF BB BF``) in front of JSON or text: dropped.
- **JSONP**: ``jQuery1124_1583({...});`` (what Eastmoney answers when a ``cb`` parameter is
  sent, as browsers do): the callback is peeled off and the JSON inside decoded.
- **an HTML page with status 200** where JSON or a spreadsheet was asked for (a block page, a
  maintenance notice, a login wall): refused naming provider, URL and the page's title.
- **a body cut short** (the connection dropped mid-answer, a proxy's size limit): JSON that
  ends before its last bracket is refused as "cut short after N bytes", not as "not JSON".

Every message names the provider and the URL (secrets redacted, as in logs).
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any

import httpx

from hk_pipeline.sources.base import SourceError
from hk_pipeline.sources.redact import redact_url

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
_JSONP_HEAD = re.compile(r"^\s*[A-Za-z_$][\w$.]*\s*\(")
_JSONP_TAIL = re.compile(r"\)\s*;?\s*$")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_START = re.compile(rb"^\s*<(?:!doctype|html|head|body|title|\?xml)", re.IGNORECASE)


class EnvelopeError(SourceError):
    """The body is not the answer asked for (HTML page, cut short, undecodable)."""


def where(provider: str, response: httpx.Response) -> str:
    """``provider: URL`` of a response, secrets redacted."""
    return f"{provider}: {redact_url(response.request.url if _has_request(response) else '')}"


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 - raises when the response was built without one
    except RuntimeError:
        return False
    return True


def body_bytes(provider: str, response: httpx.Response) -> bytes:
    """The body with any leftover gzip layer removed (httpx already undid Content-Encoding)."""
    content = response.content
    layers = 0
    while content.startswith(GZIP_MAGIC) and layers < 3:  # a body gzipped twice is seen too
        layers += 1
        try:
            content = gzip.decompress(content)
        except (EOFError, OSError, zlib.error) as exc:
            raise EnvelopeError(
                f"{where(provider, response)} answered a gzip body that is cut short or"
                f" corrupt after {len(response.content):,} bytes ({type(exc).__name__}: {exc});"
                " try again later"
            ) from exc
    return content


def html_title(content: bytes) -> str | None:
    """The page's <title> when the body is an HTML page, else None."""
    head = content[:4096].lstrip(UTF8_BOM)
    if not _HTML_START.match(head):
        return None
    text = head.decode("utf-8", errors="replace")
    m = _TITLE.search(text)
    return " ".join(m.group(1).split())[:80] if m else ""


def refuse_html(provider: str, response: httpx.Response, content: bytes, wanted: str) -> None:
    """Raise when ``content`` is an HTML page although ``wanted`` (JSON, an xlsx) was asked."""
    title = html_title(content)
    if title is None:
        return
    named = f" titled {title!r}" if title else ""
    raise EnvelopeError(
        f"{where(provider, response)} answered HTTP {response.status_code} with an HTML"
        f" page{named} instead of {wanted}: a block, maintenance or error page, not data;"
        " refused (open the URL in a browser to see it)"
    )


def _decode(provider: str, response: httpx.Response, content: bytes, encoding: str) -> str:
    if content.startswith(UTF8_BOM):
        content = content[len(UTF8_BOM) :]
    try:
        return content.decode(encoding)
    except UnicodeDecodeError as exc:
        raise EnvelopeError(
            f"{where(provider, response)} answered a body that is not {encoding} text"
            f" (byte {exc.start}: {content[exc.start : exc.start + 8]!r}); refused"
        ) from exc


def text(provider: str, response: httpx.Response, encoding: str = "utf-8") -> str:
    """The body as text: gzip layer and byte-order mark removed, decoded as ``encoding``."""
    return _decode(provider, response, body_bytes(provider, response), encoding)


def unwrap_jsonp(body: str) -> str:
    """The JSON inside ``callback( ... );``, or the body unchanged when it is not JSONP."""
    head = _JSONP_HEAD.match(body)
    if not head:
        return body
    inner = body[head.end() :]
    tail = _JSONP_TAIL.search(inner)
    return inner[: tail.start()] if tail else inner  # no closing ")": cut short, JSON says so


def _cut_short(body: str, exc: json.JSONDecodeError) -> bool:
    """True when the decoder ran out of text: an answer that stops before its end."""
    return exc.pos >= len(body.rstrip()) or exc.msg.startswith("Unterminated string")


def decode_json(provider: str, response: httpx.Response) -> Any:
    """The JSON of a response, through the envelopes above; EnvelopeError when there is none."""
    content = body_bytes(provider, response)
    refuse_html(provider, response, content, "JSON")
    body = unwrap_jsonp(_decode(provider, response, content, "utf-8"))
    if not body.strip():
        raise EnvelopeError(
            f"{where(provider, response)} answered HTTP {response.status_code} with an empty"
            " body where JSON was expected: no answer, refused; try again later"
        )
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        if _cut_short(body, exc):
            raise EnvelopeError(
                f"{where(provider, response)} answered JSON that is cut short after"
                f" {len(response.content):,} bytes ({exc.msg} at char {exc.pos}): an"
                " incomplete answer, refused; try again later"
            ) from exc
        snippet = body[:120].replace("\n", " ")
        raise EnvelopeError(
            f"{where(provider, response)} answered HTTP {response.status_code} with a body"
            f" that is not JSON (starts {snippet!r}); refused"
        ) from exc
