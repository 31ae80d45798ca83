"""The one expression grammar of stressfrontier: view values, linear views and linear constraints.

One tokenizer and one recursive-descent parser (never ``eval``) turn text into a small syntax tree;
the operations the callers need work on that tree:

* :func:`free_names` -- the names an expression refers to;
* :func:`evaluate` -- its value with the names taken from a mapping (view values such as
  ``"prior - 0.5*prior_vol"``, see :func:`tasks.views.parse_expression`);
* :func:`linear_form` -- coefficients by name and a constant, for linear views
  (``"2*SPX - Bond"``, :func:`tasks.views.parse_linear`) and linear constraints
  (``"Put_90 + Put_95 >= -0.3"``, :func:`tasks.optimization.parse_constraint`).

Grammar (EBNF; blanks between tokens are ignored)::

    comparison = expression , comparator , expression ;     (* parse_comparison only *)
    expression = term , { ( "+" | "-" ) , term } ;           (* left associative *)
    term       = factor , { ( "*" | "/" ) , factor } ;       (* left associative *)
    factor     = ( "+" | "-" ) , factor | number | name | "(" , expression , ")" ;
    comparator = "<=" | ">=" | "==" | "=" | "≤" | "≥" ;      (* "=" means "==" *)
    number     = ( digits , [ "." , [ digits ] ] | "." , digits ) , [ ( "e" | "E" ) , [ "+" | "-" ] , digits ] ;
    name       = start , { start | digit } ;                 (* plain syntax *)
    name       = start , { start | digit | "." }             (* Syntax.dotted_names *)
               | "'" , { char - "'" } , "'" | '"' , { char - '"' } , '"'
               | "`" , { char - "`" } , "`" ;                (* Syntax.quoted_names; not empty *)
    start      = "A" | ... | "Z" | "a" | ... | "z" | "_" ;

A :class:`Syntax` chooses the lexical options of a caller: view values and linear views use
:data:`EXPRESSION_SYNTAX` (plain names, no comparison), constraints :data:`CONSTRAINT_SYNTAX`
(dotted and quoted names, one comparison). Syntax errors and non-linear terms raise
:class:`ExpressionError`, a ``ValueError`` whose message reads ``cannot parse '<text>': <reason>``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "Syntax",
    "EXPRESSION_SYNTAX",
    "CONSTRAINT_SYNTAX",
    "COMPARATORS",
    "ExpressionError",
    "Token",
    "Number",
    "Name",
    "Unary",
    "Binary",
    "Node",
    "Expression",
    "Comparison",
    "LinearForm",
    "tokenize",
    "parse",
    "parse_comparison",
    "free_names",
    "evaluate",
    "linear_form",
]


# ------------------------------------------------------------------------------------------------
# lexical options, errors, tokens
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Syntax:
    """Lexical options of one caller of the grammar.

    Attributes
    ----------
    dotted_names : names may contain ``.`` after their first character (``"SPX.Index"``).
    quoted_names : a name may be quoted with ``'``, ``"`` or a backtick (``'SPX 4000 C'``).
    comparisons : the comparators ``<= >= == = ≤ ≥`` are tokens (else they are bad characters).
    """

    dotted_names: bool = False
    quoted_names: bool = False
    comparisons: bool = False


#: view values (``"prior * 1.2"``) and linear views (``"2*SPX - Bond"``)
EXPRESSION_SYNTAX = Syntax()
#: linear constraints over instrument and group names (``"'SPX 4000 C' + Put_95.b >= 0"``)
CONSTRAINT_SYNTAX = Syntax(dotted_names=True, quoted_names=True, comparisons=True)
#: comparator token -> canonical comparator
COMPARATORS: Mapping[str, str] = {"<=": "<=", "≤": "<=", ">=": ">=", "≥": ">=", "==": "==", "=": "=="}

_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_QUOTED = r"""'[^']*'|"[^"]*"|`[^`]*`"""
_COMPARATOR = r"<=|>=|==|=|≤|≥"


def _token_pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"\s*(?:(?P<num>{_NUMBER})|(?P<name>{name})|(?P<quoted>{_QUOTED})|(?P<cmp>{_COMPARATOR})"
        rf"|(?P<op>[-+*/()])|(?P<bad>\S))"
    )


_PATTERNS = {
    False: _token_pattern(r"[A-Za-z_][A-Za-z0-9_]*"),
    True: _token_pattern(r"[A-Za-z_][A-Za-z0-9_.]*"),
}


class ExpressionError(ValueError):
    """A syntax error or a non-linear term in an expression.

    Attributes
    ----------
    text : the source text.
    reason : what is wrong, e.g. ``"missing ')'"``; the message is
        ``cannot parse '<text>': <reason>``.
    """

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"cannot parse {text!r}: {reason}")
        self.text = text
        self.reason = reason


class Token(NamedTuple):
    """One lexeme: kind ``"num"``, ``"name"``, ``"cmp"`` or ``"op"``; its text (a quoted name
    without its quotes) and its position (0-based character index in the source text)."""

    kind: str
    text: str
    pos: int


def tokenize(text: str, syntax: Syntax = EXPRESSION_SYNTAX) -> list[Token]:
    """Split ``text`` into tokens.

    Parameters
    ----------
    text : the source text.
    syntax : lexical options (:class:`Syntax`).

    Returns
    -------
    list of :class:`Token`, in source order (empty for a blank text).

    Raises
    ------
    ExpressionError
        On a character that starts no token of ``syntax`` or an empty quoted name.
    TypeError
        If ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"an expression must be a string, got {type(text).__name__}")
    pattern = _PATTERNS[syntax.dotted_names]
    out: list[Token] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = pattern.match(stripped, pos)
        assert m is not None  # the last alternative matches any non-blank character
        kind = m.lastgroup
        assert kind is not None
        value, start = m.group(kind), m.start(kind)
        if kind == "bad" or (kind == "quoted" and not syntax.quoted_names) or (
                kind == "cmp" and not syntax.comparisons):
            raise ExpressionError(text, f"unexpected character {value[0]!r} at position {start}")
        if kind == "quoted":
            kind, value = "name", value[1:-1]
            if not value.strip():
                raise ExpressionError(text, "empty quoted name")
        out.append(Token(kind, value, start))
        pos = m.end()
    return out


# ------------------------------------------------------------------------------------------------
# the syntax tree
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Number:
    """A numeric literal: its value (``float(text)``, may be ``inf`` for ``1e999``) and text."""

    value: float
    text: str


@dataclass(frozen=True, slots=True)
class Name:
    """A name (a variable, instrument or group; case sensitive)."""

    name: str


@dataclass(frozen=True, slots=True)
class Unary:
    """``op operand`` with op ``"+"`` or ``"-"``."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    """``left op right`` with op one of ``+ - * /``."""

    op: str
    left: Node
    right: Node


Node = Number | Name | Unary | Binary


class LinearForm(NamedTuple):
    """``sum_j coefs[name_j] * name_j + constant``; coefs in order of first appearance."""

    coefs: dict[str, float]
    constant: float


@dataclass(frozen=True)
class Expression:
    """A parsed arithmetic expression.

    Attributes
    ----------
    text : the source text.
    tree : its syntax tree (:data:`Node`).
    names : the names it refers to.
    """

    text: str
    tree: Node = field(repr=False)
    names: frozenset[str] = field(repr=False)

    def evaluate(self, env: Mapping[str, float]) -> float:
        """Numeric value with the names taken from ``env`` (KeyError for a missing name)."""
        return evaluate(self.tree, env)

    def linear(self, *, finite: bool = False) -> LinearForm:
        """The linear form of the expression (see :func:`linear_form`)."""
        return linear_form(self.tree, self.text, finite=finite)


@dataclass(frozen=True)
class Comparison:
    """``left op right`` with op ``"<="``, ``">="`` or ``"=="``; text is the whole source."""

    text: str
    left: Node
    op: str
    right: Node


# ------------------------------------------------------------------------------------------------
# the parser
# ------------------------------------------------------------------------------------------------
class _Parser:
    """Recursive descent over a token list (one production per method, see the module docstring)."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text, self.toks, self.i = text, tokens, 0

    def _fail(self, reason: str) -> ExpressionError:
        return ExpressionError(self.text, reason)

    def _take_op(self, *ops: str) -> str | None:
        """Consume the next token if it is one of the operators ``ops``; return it (else None)."""
        if self.i < len(self.toks):
            tok = self.toks[self.i]
            if tok.kind == "op" and tok.text in ops:
                self.i += 1
                return tok.text
        return None

    def whole(self) -> Node:
        """An expression that spans every token."""
        node = self.expression()
        if self.i != len(self.toks):
            raise self._fail(f"unexpected {self.toks[self.i].text!r}")
        return node

    def expression(self) -> Node:
        node = self.term()
        while (op := self._take_op("+", "-")) is not None:
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while (op := self._take_op("*", "/")) is not None:
            node = Binary(op, node, self.factor())
        return node

    def factor(self) -> Node:
        if self.i >= len(self.toks):
            raise self._fail("expression ends too early")
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind == "op" and tok.text in ("+", "-"):
            return Unary(tok.text, self.factor())
        if tok.kind == "num":
            return Number(float(tok.text), tok.text)
        if tok.kind == "name":
            return Name(tok.text)
        if tok.kind == "op" and tok.text == "(":
            node = self.expression()
            if self._take_op(")") is None:
                raise self._fail("missing ')'")
            return node
        raise self._fail(f"unexpected {tok.text!r}")


def parse(text: str, syntax: Syntax = EXPRESSION_SYNTAX) -> Expression:
    """Parse one expression (no comparison).

    Parameters
    ----------
    text : e.g. ``"prior - 0.5*prior_vol"`` or ``"2*SPX - Bond"``.
    syntax : lexical options (:class:`Syntax`).

    Returns
    -------
    Expression

    Raises
    ------
    ExpressionError
        On a syntax error (including an empty text).
    """
    tokens = tokenize(text, syntax)
    if not tokens:
        raise ExpressionError(text, "empty expression")
    tree = _Parser(text, tokens).whole()
    return Expression(text, tree, frozenset(free_names(tree)))


def parse_comparison(text: str, syntax: Syntax = CONSTRAINT_SYNTAX) -> Comparison:
    """Parse ``expression comparator expression`` (exactly one comparator).

    Parameters
    ----------
    text : e.g. ``"Put_90 + Put_95 >= -0.3"``.
    syntax : lexical options; comparators are recognised whatever ``syntax.comparisons`` says.

    Returns
    -------
    Comparison
        With the comparator in canonical form (``"="`` becomes ``"=="``, ``"≤"`` ``"<="``, ...).

    Raises
    ------
    ExpressionError
        On a syntax error, no comparator or more than one, or an empty side.
    """
    if not syntax.comparisons:
        syntax = Syntax(syntax.dotted_names, syntax.quoted_names, comparisons=True)
    tokens = tokenize(text, syntax)
    cmps = [k for k, tok in enumerate(tokens) if tok.kind == "cmp"]
    if len(cmps) != 1:
        raise ExpressionError(text, f"need exactly one of <=, >=, == (found {len(cmps)})")
    j = cmps[0]
    sides: list[Node] = []
    for part in (tokens[:j], tokens[j + 1:]):
        if not part:
            raise ExpressionError(text, "empty side of the comparison")
        sides.append(_Parser(text, part).whole())
    return Comparison(text, sides[0], COMPARATORS[tokens[j].text], sides[1])


# ------------------------------------------------------------------------------------------------
# operations on the tree
# ------------------------------------------------------------------------------------------------
def free_names(node: Node) -> tuple[str, ...]:
    """The names ``node`` refers to, in order of first appearance (left to right)."""
    out: dict[str, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            out[n.name] = None
        elif isinstance(n, Unary):
            walk(n.operand)
        elif isinstance(n, Binary):
            walk(n.left)
            walk(n.right)

    walk(node)
    return tuple(out)


def evaluate(node: Node, env: Mapping[str, float]) -> float:
    """Numeric value of ``node`` with the names taken from ``env``.

    Raises
    ------
    KeyError
        For a name missing from ``env``.
    ZeroDivisionError
        On a division by zero.
    """
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Name):
        return float(env[node.name])
    if isinstance(node, Unary):
        v = evaluate(node.operand, env)
        return -v if node.op == "-" else v
    a, b = evaluate(node.left, env), evaluate(node.right, env)
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    if b == 0.0:
        raise ZeroDivisionError("division by zero")
    return a / b


def linear_form(node: Node, text: str = "", *, finite: bool = False) -> LinearForm:
    """Coefficients by name and constant of an expression that is affine in its names.

    The tree is folded bottom-up, left to right, so the first offending term (in reading order)
    is the one reported.

    Parameters
    ----------
    node : the syntax tree.
    text : the source text (for error messages).
    finite : reject numeric literals that are not finite (``1e999``).

    Returns
    -------
    LinearForm
        ``coefs`` in order of first appearance (a name whose terms cancel keeps a zero
        coefficient) and ``constant``.

    Raises
    ------
    ExpressionError
        On a product of two non-constant terms, a division by a non-constant or by zero, or
        (``finite=True``) a non-finite number.
    """
    if isinstance(node, Number):
        if finite and not math.isfinite(node.value):
            raise ExpressionError(text, f"number {node.text} is not finite")
        return LinearForm({}, node.value)
    if isinstance(node, Name):
        return LinearForm({node.name: 1.0}, 0.0)
    if isinstance(node, Unary):
        c, k = linear_form(node.operand, text, finite=finite)
        if node.op == "+":
            return LinearForm(c, k)
        return LinearForm({n: -w for n, w in c.items()}, -k)
    (ca, ka), (cb, kb) = linear_form(node.left, text, finite=finite), linear_form(node.right, text, finite=finite)
    if node.op in ("+", "-"):
        s = 1.0 if node.op == "+" else -1.0
        out = dict(ca)
        for n, w in cb.items():
            out[n] = out.get(n, 0.0) + s * w
        return LinearForm(out, ka + s * kb)
    if node.op == "*":
        if ca and cb:
            raise ExpressionError(text, "product of two names is not linear")
        if ca:
            return LinearForm({n: w * kb for n, w in ca.items()}, ka * kb)
        return LinearForm({n: w * ka for n, w in cb.items()}, ka * kb)
    if cb:
        raise ExpressionError(text, "division by a name is not linear")
    if kb == 0.0:
        raise ExpressionError(text, "division by zero")
    return LinearForm({n: w / kb for n, w in ca.items()}, ka / kb)
