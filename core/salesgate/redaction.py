"""Secrets never leave: the one function every message, ``repr``, log line and decision passes URLs through.

A database URL can carry a secret in two places: the user-info (``postgresql://erp:pw@db/erp``) and
the query (``?password=pw``, ``?sslpassword=pw``, ``?token=pw``..., or a setting inside a query value:
``?options=-c%20password%3Dpw``). :func:`redact` replaces both
in any text — a bare URL or a driver's message that quotes one — and, given the URL a message is
about, every form of its secrets (as written, %-decoded, %-encoded) wherever they appear, since a
driver may echo a password outside any URL. No sqlalchemy here: the core uses it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus

MASK = "***"

SECRET_WORDS = ("password", "passwd", "passphrase", "pwd", "token", "secret", "apikey", "api_key", "credential")
"""A query parameter whose name contains one of these (any case) holds a secret."""
SECRET_NAMES = ("pass", "pw")
"""...and one named exactly one of these."""

# scheme://user:secret@host... The secret runs to the last "@" before the host, so a password written
# with a raw "@" or ":" in it is masked whole. Only the user-info is matched: nothing after "/", "?" or "#".
# The scheme is taken as the whole run of scheme characters before "://" (a run starting with a digit
# too: only the user-info matters): tried at every letter of a long word, the pattern took quadratic time.
_USERINFO = re.compile(r"(?<![A-Za-z0-9+.\-])(?P<head>[A-Za-z0-9+.\-]+://[^:/?#@\s]*):(?P<secret>[^/?#\s]*)@(?=[^@/?#\s]*(?:[/?#\s\"']|$))")
# name=value in a URL query (after ? or &) or a libpq keyword string (after a space or start).
_PARAM = re.compile(r"(?P<head>(?:^|[?&;\s])(?P<name>[A-Za-z_][A-Za-z0-9_\-]*)\s*=\s*)(?P<value>'[^']*'|[^&\s#\"']*)")
# name%3Dvalue: a setting inside a %-encoded query value, e.g. ?options=-c%20password%3Dpw (libpq's "options").
# The value runs to the next encoded space or separator. The name is a whole word ("20password" after an
# encoded space: it contains the secret word all the same), so the time stays linear in the text.
_ENCODED_PARAM = re.compile(r"(?<![A-Za-z0-9_])(?P<head>(?P<name>[A-Za-z0-9_]+)%3[Dd])"
                            r"(?P<value>(?:[^&\s#%\"'+]|%(?!20)[0-9A-Fa-f]{2})*)")


def is_secret_name(name: str) -> bool:
    """Whether a URL query parameter or connection option named ``name`` holds a secret."""
    lowered = name.lower()
    return lowered in SECRET_NAMES or any(word in lowered for word in SECRET_WORDS)


def secrets_in(url: object) -> set[str]:
    """The secret values a URL (text or a SQLAlchemy ``URL``) carries, in every form a message could
    hold them: as written, %-decoded and %-encoded (empty and one-character values are no secrets)."""
    found: set[str] = set()
    password = getattr(url, "password", None)
    if password:
        found.add(str(password))
    url = _text(url)
    for match in _USERINFO.finditer(url):
        found.add(match["secret"])
    query = url.split("?", 1)[1].split("#", 1)[0] if "?" in url else ""
    for raw in query.split("&"):
        name, _, value = raw.partition("=")
        if is_secret_name(unquote_plus(name)):
            found.add(value)
    for name, value in parse_qsl(query, keep_blank_values=False):
        if is_secret_name(name):
            found.add(value)
        for setting in _PARAM.finditer(value):  # a setting inside a value: ?options=-c password=pw
            if is_secret_name(setting["name"]) and setting["value"]:
                found.add(setting["value"].strip("'"))
    return {form for secret in found for form in _forms(secret) if len(form) >= 2}


def _forms(secret: str) -> set[str]:
    return {secret, unquote(secret), unquote_plus(secret), quote(unquote(secret), safe=""),
            quote_plus(unquote(secret), safe="")} - {""}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every URL password and secret query parameter replaced by ``***``, and each of
    ``secrets`` (e.g. :func:`secrets_in` of the URL a driver's message is about) masked wherever it occurs."""
    # Each pattern needs a mark ("://" and "@", "=", "%3D") a text without it lacks: most log lines (every
    # audit line) skip the patterns, whose scan costs about 15 us per KB each.
    if "://" in text and "@" in text:
        text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    if "=" in text:
        text = _PARAM.sub(lambda m: f"{m['head']}{MASK}" if is_secret_name(m["name"]) and m["value"] else m[0], text)
    if "%3D" in text or "%3d" in text:
        text = _ENCODED_PARAM.sub(lambda m: f"{m['head']}{MASK}" if is_secret_name(m["name"]) and m["value"]
                                  else m[0], text)
    for secret in sorted(set(secrets), key=len, reverse=True):  # longest first: a form may contain another
        if secret and secret != MASK:
            text = text.replace(secret, MASK)
    return text


def redact_url(url: object) -> str:
    """A URL (text or a SQLAlchemy ``URL``) fit for messages, ``repr`` and logs: every secret masked."""
    return redact(_text(url), secrets_in(url))


def _text(url: object) -> str:
    render = getattr(url, "render_as_string", None)
    return str(render(hide_password=False) if callable(render) else url)
