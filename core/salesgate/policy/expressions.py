"""Parse the condition language policy owners write in ``when:``.

A deliberately small language (comparisons, ``and``/``or``/``not``, arithmetic, ``in``, ``None``,
dates and days, ``any``/``all`` over order lines) parsed by hand into an AST. Nothing here ever
reaches ``eval`` or ``exec``: a rule that is not in the grammar is a :class:`ExpressionError`
naming the column, and the type checker (:mod:`salesgate.policy.checker`) turns the AST into the
compiled IR.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from .limits import MAX_EXPRESSION_CHARS, MAX_NESTING, MAX_NUMBER, MAX_OPERATORS, MAX_STRING_CHARS


class ExpressionError(ValueError):
    """The text is not a valid expression; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Name:
    path: str  # dotted: order.total
    col: int


@dataclass(frozen=True)
class Number:
    value: Decimal | int
    col: int
    percent: bool = False


@dataclass(frozen=True)
class String:
    value: str
    col: int


@dataclass(frozen=True)
class Bool:
    value: bool
    col: int


@dataclass(frozen=True)
class NoneLit:
    col: int


@dataclass(frozen=True)
class ListLit:
    items: tuple[Node, ...]
    col: int


@dataclass(frozen=True)
class Unary:
    op: str  # "not" or "-"
    operand: Node
    col: int


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / and or < <= > >= == != in "not in"
    left: Node
    right: Node
    col: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]
    col: int


@dataclass(frozen=True)
class Comprehension:
    """``any(<cond> for <var> in <collection>)``, ``sum(<value> for <var> in <collection> if <where>)``."""

    func: str
    cond: Node
    var: str
    collection: Name
    col: int
    where: Node | None = None


Node: TypeAlias = Name | Number | String | Bool | NoneLit | ListLit | Unary | Binary | Call | Comprehension

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[0-9][0-9_]*(?:\.[0-9][0-9_]*)?%?)
  | (?P<string>"[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*')
  | (?P<name>[^\W\d]\w*(?:\.[^\W\d]\w*)*)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
    """,
    re.VERBOSE,
)

_KEYWORDS = {"and", "or", "not", "in", "for", "if", "true", "false", "True", "False", "None", "null"}
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}

_FOREIGN_WORDS = {"并且": "and", "而且": "and", "且": "and", "和": "and", "与": "and", "或者": "or", "或": "or",
                  "非": "not", "不是": "not", "不": "not", "在": "in", "是": "=="}
"""Chinese for the language's words, as a policy owner types them: refused with the word to write."""
_UNITS = {"万": 10_000, "千": 1_000, "亿": 100_000_000, "元": 1, "块": 1, "k": 1_000, "K": 1_000}
"""What follows a number in a handbook (3万, 30000元, 100k), and what it multiplies the number by."""
_QUOTES = {"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u300c": '"', "\u300d": '"'}


def _character_hint(char: str) -> str:
    """Why a character is not in the language, and what to write instead: a full-width ＞ or ％
    (typed with a Chinese input method) is its half-width self, never guessed at."""
    if char == "=":
        return " (use == to compare)"
    if char in "&|!":
        return " (use and, or, not)"
    if char.isdigit():  # full-width １２, Arabic-Indic ١٢: refused in facts too, never a guess
        return " (write numbers with the digits 0-9)"
    if char in _QUOTES:
        return f" (a curly quote: write text in straight quotes {_QUOTES[char]}...{_QUOTES[char]})"
    plain = unicodedata.normalize("NFKC", char)
    if plain != char and plain.isascii() and plain.strip():
        return (f" (a full-width {char!r}: write {plain!r}; switch the input method to half-width, or type it "
                "with the keyboard in English)")
    return ""


def _unit_error(number: str, unit: str, col: int) -> ExpressionError:
    """``3万``, ``30000元``, ``100k``: the number the owner meant, written as the language reads it."""
    digits = number.replace("_", "").rstrip("%")
    try:
        meant = Decimal(digits) * _UNITS[unit]
    except InvalidOperation:  # pragma: no cover - the token pattern admits only digits
        meant = None
    shown = f"{meant.normalize():f}" if meant is not None else number
    if unit in ("元", "块"):
        why = f"an amount in a rule has no currency: write {shown}"
    else:
        why = f"a number in a rule is written in digits only: write {shown} for {number}{unit}"
    return ExpressionError(f"{number}{unit} is not a number here: {why}", col)


def _word_error(tok: _Tok) -> ExpressionError | None:
    """A word of another language or case where a word of the language belongs (并且, AND, TRUE)."""
    if tok.text in _FOREIGN_WORDS:
        word = _FOREIGN_WORDS[tok.text]
        return ExpressionError(f"write {word!r} for {tok.text!r}: the words of a condition are English "
                               "(and, or, not, in) and comparisons are signs (==, !=, <, >)", tok.col)
    lower = tok.text.lower()
    if "." not in tok.text and tok.text != lower and (lower in _KEYWORDS or lower in ("none", "null")):
        word = "None" if lower in ("none", "null") else lower
        return ExpressionError(f"write {word!r}, not {tok.text!r}: the words of a condition are in lower case "
                               "(and, or, not, in, true, false; None)", tok.col)
    return None


@dataclass(frozen=True)
class _Tok:
    kind: str  # number string name op kw end
    text: str
    col: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"unexpected character {text[pos]!r}{_character_hint(text[pos])}", pos + 1)
        kind = match.lastgroup or ""
        if kind != "ws":
            value = match.group()
            if kind == "number" and match.end() < len(text) and text[match.end()] in _UNITS and (
                    text[match.end()] not in "kK" or not text[match.end() + 1:match.end() + 2].isalnum()):
                raise _unit_error(value, text[match.end()], pos + 1)
            if kind == "name" and value in _KEYWORDS:
                kind = "kw"
            tok = _Tok(kind, value, pos + 1)
            if kind == "name" and (error := _word_error(tok)) is not None:
                raise error
            tokens.append(tok)
        pos = match.end()
    tokens.append(_Tok("end", "", len(text) + 1))
    return tokens


class _Parser:
    """Recursive descent, bounded: recursion only where the text nests (at most ``MAX_NESTING``
    deep), and at most ``MAX_OPERATORS`` operators, so the tree the checker and both backends walk
    recursively stays far from Python's stack limit."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0
        self.operators = 0

    def operator(self) -> _Tok:
        """Take an operator token, counting it against ``MAX_OPERATORS``."""
        tok = self.take()
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise ExpressionError(
                f"more than {MAX_OPERATORS} operators in one expression: split the rule into several rules, "
                "or list values with 'in [...]'", tok.col)
        return tok

    def nested(self, col: int) -> None:
        """One level deeper (a parenthesis, a list, a call, ``not``, a unary ``-``)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionError(f"nested more than {MAX_NESTING} levels deep: write the condition flatter, "
                                  "or split it into several rules", col)

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.pos]

    def take(self) -> _Tok:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at(self, *texts: str) -> bool:
        return self.tok.kind in ("op", "kw") and self.tok.text in texts

    def expect(self, text: str) -> _Tok:
        if not self.at(text):
            self.thousands()
            found = self.tok.text or "end of expression"
            raise ExpressionError(f"expected {text!r} but found {found!r}", self.tok.col)
        return self.take()

    def thousands(self) -> None:
        """At an unexpected ``,``: when it separates thousands (``30,000``), say so with the number meant."""
        if not (self.at(",") and self.pos > 0 and self.tokens[self.pos - 1].kind == "number"):
            return
        parts = [self.tokens[self.pos - 1].text]
        index = self.pos
        while (self.tokens[index].text == "," and self.tokens[index + 1].kind == "number"
               and re.fullmatch(r"[0-9]{3}(\.[0-9]+)?%?", self.tokens[index + 1].text)):
            parts.append(self.tokens[index + 1].text)
            index += 2
        if len(parts) > 1 and "." not in "".join(parts[:-1]):
            written, meant = ",".join(parts), "".join(parts)
            raise ExpressionError(f"{written} has a thousands separator: write {meant} (or {'_'.join(parts)}), "
                                  "without commas", self.tokens[self.pos - 1].col)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ExpressionError("the expression is empty", 1)
        node = self.or_expr()
        if self.tok.kind != "end":
            self.thousands()
            raise ExpressionError(f"unexpected {self.tok.text!r}", self.tok.col)
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.at("or"):
            col = self.operator().col
            node = Binary("or", node, self.and_expr(), col)
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.at("and"):
            col = self.operator().col
            node = Binary("and", node, self.not_expr(), col)
        return node

    def not_expr(self) -> Node:
        if self.at("not"):
            col = self.operator().col
            self.nested(col)
            node = Unary("not", self.not_expr(), col)
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum()
        if self.tok.kind == "op" and self.tok.text in _COMPARE:
            op = self.operator()
            right = self.sum()
            if self.tok.kind == "op" and self.tok.text in _COMPARE:
                raise ExpressionError(
                    "chained comparisons are not supported: join two comparisons with 'and'", self.tok.col
                )
            return Binary(op.text, left, right, op.col)
        if self.at("in"):
            col = self.operator().col
            return Binary("in", left, self.sum(), col)
        if self.at("not") and self.tokens[self.pos + 1].text == "in":
            col = self.operator().col
            self.take()
            return Binary("not in", left, self.sum(), col)
        return left

    def sum(self) -> Node:
        node = self.term()
        while self.at("+", "-"):
            op = self.operator()
            node = Binary(op.text, node, self.term(), op.col)
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.at("*", "/"):
            op = self.operator()
            node = Binary(op.text, node, self.unary(), op.col)
        return node

    def unary(self) -> Node:
        if self.at("-"):
            col = self.operator().col
            self.nested(col)
            node = Unary("-", self.unary(), col)
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return _number(tok)
        if tok.kind == "string":
            self.take()
            if len(tok.text) - 2 > MAX_STRING_CHARS:
                raise ExpressionError(f"a text of {len(tok.text) - 2:,} characters: at most {MAX_STRING_CHARS:,} "
                                      "in one expression", tok.col)
            return String(_unquote(tok.text), tok.col)
        if tok.kind == "kw" and tok.text in ("true", "True", "false", "False"):
            self.take()
            return Bool(tok.text.lower() == "true", tok.col)
        if tok.kind == "kw" and tok.text in ("None", "null"):
            self.take()
            return NoneLit(tok.col)
        if tok.kind == "name":
            self.take()
            if self.at("("):
                self.nested(self.tok.col)
                call = self.call(tok)
                self.depth -= 1
                return call
            return Name(tok.text, tok.col)
        if self.at("("):
            self.nested(self.take().col)
            node = self.or_expr()
            self.expect(")")
            self.depth -= 1
            return node
        if self.at("["):
            col = self.take().col
            self.nested(col)
            items: list[Node] = []
            while not self.at("]"):
                items.append(self.or_expr())
                if not self.at("]"):
                    self.expect(",")
            self.take()
            self.depth -= 1
            return ListLit(tuple(items), col)
        found = tok.text or "end of expression"
        raise ExpressionError(f"expected a value, a fact name or '(' but found {found!r}", tok.col)

    def call(self, name: _Tok) -> Node:
        self.expect("(")
        if self.at(")"):
            self.take()
            return Call(name.text, (), name.col)
        first = self.or_expr()
        if self.at("for"):
            self.take()
            var = self.take()
            if var.kind != "name" or "." in var.text:
                raise ExpressionError("expected a loop variable name after 'for', like 'line'", var.col)
            self.expect("in")
            coll = self.take()
            if coll.kind != "name":
                raise ExpressionError("expected a list fact after 'in', like 'order.lines'", coll.col)
            where = None
            if self.at("if"):
                self.take()
                where = self.or_expr()
            self.expect(")")
            return Comprehension(name.text, first, var.text, Name(coll.text, coll.col), name.col, where)
        args = [first]
        while self.at(","):
            self.take()
            args.append(self.or_expr())
        self.expect(")")
        return Call(name.text, tuple(args), name.col)


def _number(tok: _Tok) -> Number:
    text = tok.text.replace("_", "")
    percent = text.endswith("%")
    if percent:
        text = text[:-1]
    if len(text.split(".")[0].lstrip("0")) > 15:  # before converting: int() refuses 4,300+ digits
        shown = tok.text if len(tok.text) <= 40 else f"{tok.text[:20]}… ({len(tok.text):,} characters)"
        raise ExpressionError(f"the number {shown} is too large: numbers in a policy have at most 15 digits "
                              "before the decimal point", tok.col)
    try:
        value: Decimal | int = Decimal(text) if (percent or "." in text) else int(text)
    except (InvalidOperation, ValueError):  # pragma: no cover - the token pattern admits only digits
        raise ExpressionError(f"bad number {tok.text!r}", tok.col) from None
    if abs(Decimal(value)) >= MAX_NUMBER:
        raise ExpressionError(f"the number {tok.text} is too large: numbers in a policy have at most 15 digits "
                              "before the decimal point", tok.col)
    if percent:
        value = Decimal(value) / 100
    return Number(value, tok.col, percent)


def _unquote(text: str) -> str:
    """The text between the quotes: ``\\"``, ``\\'`` and ``\\\\`` are a quote and a backslash; any other
    backslash is kept, so a ``matches`` pattern reads ``"\\d+"`` as RE2 does."""
    body = text[1:-1]
    return re.sub(r"\\([\\\"'])", r"\1", body)


def parse(text: str) -> Node:
    """Parse one expression. Raises :class:`ExpressionError` with a 1-based column."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"an expression of {len(text):,} characters: at most {MAX_EXPRESSION_CHARS:,}; split "
                              "the rule into several rules", MAX_EXPRESSION_CHARS + 1)
    return _Parser(text).parse()
