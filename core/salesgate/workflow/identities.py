"""Who is who in the approval workflow: user ids and role names as every store compares them.

Every id that enters the workflow (the requester, the approver, role grants, the CLI's ``--as``/``--by``)
passes :func:`user_id` once, so the SQL store on any database and the in-memory store agree on who
is the same person. :func:`acting_as` names the requester of the decisions made inside it.
"""

from __future__ import annotations

import contextvars
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ApprovalError, StoreError

ID_LENGTH = 255
"""The longest id (order, customer, user, role) a store keeps: the SQL store's column width."""

_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("salesgate_actor", default=None)


def normal_id(value: str) -> str:
    """A user id or role name as the approval workflow compares them: full-width and half-width forms
    folded to the ordinary ones (``"ｌｉ"`` is ``"li"``, an ideographic space is a space: the width
    mapping of RFC 8265, as a Chinese input method in full-width mode types them), surrounding
    whitespace stripped, Unicode NFC. Case is kept. Which ids are refused is :func:`user_id`'s."""
    if not value.isascii():
        value = "".join(unicodedata.normalize("NFKC", char)
                        if unicodedata.decomposition(char).startswith(("<wide>", "<narrow>")) else char
                        for char in value)
    return unicodedata.normalize("NFC", value.strip())


@contextmanager
def acting_as(user: str) -> Iterator[None]:
    """Decisions made inside the block are recorded as requested by ``user`` (who then cannot approve them).

    >>> with acting_as("zhang.wei"):           # doctest: +SKIP
    ...     gate.approve_order(order)
    """
    token = _actor.set(user_id(user))
    try:
        yield
    finally:
        _actor.reset(token)


def user_id(value: str, what: str = "user id") -> str:
    """``value`` as salesgate stores and compares user ids (and role names): stripped, Unicode NFC.

    Every id that enters the approval workflow passes here once (the requester, the approver, role
    grants, the CLI's ``--as``/``--by``), so ``"boss "``, ``"boss"`` and a decomposed ``"Zoé"`` are the
    same person in Python, SQLite, PostgreSQL and MariaDB (whose ``utf8mb4_bin`` ignores trailing
    spaces while the others do not). Ids are case-sensitive: ``"Li.Na"`` is not ``"li.na"``, as an
    ERP login usually is. Refused with :class:`ApprovalError`: an empty id, and control or invisible
    format characters (a tab, a newline, a zero-width space) that would make two ids look alike.
    """
    if not isinstance(value, str):
        raise ApprovalError(f"{what} must be text, got {type(value).__name__}")
    text = normal_id(value)
    if not text:
        raise ApprovalError(f"{what} is empty" + (f" (only spaces: {value!r})" if value else "")
                            + ": give the user's login as the ERP knows it")
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in _UNSEEN or _invisible(char):
            name = unicodedata.name(char, "a control character")
            raise ApprovalError(f"{what} {value!r}: character {position} is U+{ord(char):04X} ({name}); "
                                "user ids and roles are visible text without control characters or invisible "
                                "ones: type the id again")
    return fits(text, what)


def stored_id(value: str | None) -> str | None:
    """A user id read back from a row or an audit entry, as :func:`user_id` would have written it:
    ids stored before ids were normalised (``"boss "``) compare equal to the same person's today."""
    return normal_id(value) if isinstance(value, str) else value


_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, invisible formatting, surrogates, line breaks
_IGNORABLE = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2800, 0x2800),
              (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF))
"""Blank or invisible characters outside the categories above: the Unicode default-ignorable ones (combining
grapheme joiner, Hangul fillers, Khmer vowel inherents, Mongolian and other variation selectors) and the
blank Braille pattern. ``"li\u3164"`` would show as ``"li"``."""


def _invisible(char: str) -> bool:
    code = ord(char)
    if unicodedata.category(char) == "Zs" and char != " ":
        return True  # a no-break or other odd space inside an id looks like a space but is not one
    return any(low <= code <= high for low, high in _IGNORABLE)


def current_actor() -> str | None:
    """The user set by :func:`acting_as` around the current call, if any."""
    return _actor.get()


def key(value: str) -> str:
    """An order, return or customer id as every store keys and compares it: without trailing spaces.

    MariaDB's ``utf8mb4_bin`` compares ``"SO-9 "`` equal to ``"SO-9"`` (PAD SPACE, as SQL compares
    ``CHAR`` columns an ERP may pad), PostgreSQL and SQLite do not: dropped at the store's boundary,
    the two are one order in every store, rather than one on MariaDB (where deciding one voided the
    other's approvals) and two elsewhere."""
    return value.rstrip(" ") if isinstance(value, str) else value


def fits(value: str, what: str) -> str:
    """``value`` if it is 1 to :data:`ID_LENGTH` characters long; else :class:`ApprovalError` saying so."""
    if not value or len(value) > ID_LENGTH:
        raise ApprovalError(f"{what} must be 1 to {ID_LENGTH} characters, got {len(value or '')}")
    return value


def storable(value: str, what: str) -> str:
    """``value`` (an order, customer or user id a store keys a record by) if it is 1 to :data:`ID_LENGTH`
    characters long; else :class:`~salesgate.errors.StoreError` saying so, before anything is written."""
    if not value or len(value) > ID_LENGTH:
        raise StoreError(f"{what} must be 1 to {ID_LENGTH} characters, got {len(value)}")
    return value
