"""Safe parser for readable linear constraints over instrument and group names.

Examples of accepted text::

    "Put_90 + Put_95 >= -0.3"
    "Equities <= 0.6"                 # a group name stands for the sum of its members' exposures
    "2*A - B <= 0.1"
    "0.5 * (Call_ATMF - Put_ATMF) == 0"
    "'SPX 4000 C' + `odd-name` >= 0"  # quote names that are not identifiers

Grammar (recursive descent, no ``eval``)::

    constraint := expr CMP expr            CMP in  <=  >=  ==  =  ≤  ≥
    expr       := term (("+" | "-") term)*
    term       := factor (("*" | "/") factor)*
    factor     := ("+" | "-") factor | NUMBER | NAME | "(" expr ")"

Products of two non-constant terms and division by a non-constant raise ``ValueError``: the result
is always linear. :func:`parse_constraint` returns a :class:`LinearConstraint`
``sum_j coef_j * name_j  (sense)  rhs``; :func:`constraint_rows` resolves the names against the
instruments and groups and returns rows of ``A e >= B`` (and ``A_eq e = B_eq``).
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Sense", "LinearConstraint", "parse_constraint", "constraint_rows", "resolve_names"]


class Sense(enum.StrEnum):
    """Comparison of a parsed constraint."""

    GE = ">="
    LE = "<="
    EQ = "=="


@dataclass(frozen=True)
class LinearConstraint:
    """``sum_j coefs[name_j] * name_j  sense  rhs`` (names not yet resolved).

    Attributes
    ----------
    coefs : mapping name -> coefficient (nonzero), in order of first appearance.
    sense : :class:`Sense`.
    rhs : right-hand side constant (exposure units).
    text : the original text (for error messages).
    """

    coefs: Mapping[str, float]
    sense: Sense
    rhs: float
    text: str


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<quoted>'[^']*'|"[^"]*"|`[^`]*`)
      | (?P<cmp><=|>=|==|=|≤|≥)
      | (?P<op>[-+*/()])
    )""",
    re.VERBOSE,
)
_CMP = {"<=": Sense.LE, "≤": Sense.LE, ">=": Sense.GE, "≥": Sense.GE, "==": Sense.EQ, "=": Sense.EQ}


def _tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot parse {text!r}: unexpected character at position {pos}: "
                             f"{stripped[pos:pos + 10]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "quoted":
            kind, value = "name", value[1:-1]
            if not value.strip():
                raise ValueError(f"cannot parse {text!r}: empty quoted name")
        out.append((kind, value))
        pos = m.end()
    return out


# A linear form: ({name: coef}, constant)
_Form = tuple[dict[str, float], float]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.toks, self.i, self.text = tokens, 0, text

    def _peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _fail(self, why: str) -> ValueError:
        return ValueError(f"cannot parse {self.text!r}: {why}")

    def expr(self) -> _Form:
        coefs, const = self.term()
        while (tok := self._peek()) is not None and tok[0] == "op" and tok[1] in "+-":
            self.i += 1
            c2, k2 = self.term()
            sign = 1.0 if tok[1] == "+" else -1.0
            for name, c in c2.items():
                coefs[name] = coefs.get(name, 0.0) + sign * c
            const += sign * k2
        return coefs, const

    def term(self) -> _Form:
        left = self.factor()
        while (tok := self._peek()) is not None and tok[0] == "op" and tok[1] in "*/":
            self.i += 1
            right = self.factor()
            if tok[1] == "*":
                if left[0] and right[0]:
                    raise self._fail("product of two names is not linear")
                scal, form = (left[1], right) if not left[0] else (right[1], left)
                left = ({k: scal * c for k, c in form[0].items()}, scal * form[1])
            else:
                if right[0]:
                    raise self._fail("division by a name is not linear")
                if right[1] == 0.0:
                    raise self._fail("division by zero")
                left = ({k: c / right[1] for k, c in left[0].items()}, left[1] / right[1])
        return left

    def factor(self) -> _Form:
        tok = self._peek()
        if tok is None:
            raise self._fail("expression ends too early")
        kind, val = tok
        self.i += 1
        if kind == "op" and val in "+-":
            coefs, const = self.factor()
            s = 1.0 if val == "+" else -1.0
            return {k: s * c for k, c in coefs.items()}, s * const
        if kind == "num":
            x = float(val)
            if not math.isfinite(x):
                raise self._fail(f"number {val} is not finite")
            return {}, x
        if kind == "name":
            return {val: 1.0}, 0.0
        if kind == "op" and val == "(":
            form = self.expr()
            close = self._peek()
            if close != ("op", ")"):
                raise self._fail("missing ')'")
            self.i += 1
            return form
        raise self._fail(f"unexpected {val!r}")


def parse_constraint(text: str) -> LinearConstraint:
    """Parse one linear constraint (see the module docstring for the grammar).

    Parameters
    ----------
    text : str
        E.g. ``"Put_90 + Put_95 >= -0.3"``. Names are case sensitive.

    Returns
    -------
    LinearConstraint
        Names collected on the left, constants on the right; zero coefficients dropped.

    Raises
    ------
    ValueError
        On any syntax error, a non-linear term, no comparison or more than one, or no names.
    TypeError
        If ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"a linear constraint must be a string, got {type(text).__name__}")
    tokens = _tokenize(text)
    cmps = [i for i, (k, _) in enumerate(tokens) if k == "cmp"]
    if len(cmps) != 1:
        raise ValueError(f"cannot parse {text!r}: need exactly one of <=, >=, == (found {len(cmps)})")
    j = cmps[0]
    sides = []
    for part in (tokens[:j], tokens[j + 1:]):
        if not part:
            raise ValueError(f"cannot parse {text!r}: empty side of the comparison")
        parser = _Parser(part, text)
        form = parser.expr()
        if parser.i != len(part):
            raise ValueError(f"cannot parse {text!r}: unexpected {part[parser.i][1]!r}")
        sides.append(form)
    (lc, lk), (rc, rk) = sides
    coefs: dict[str, float] = dict(lc)
    for name, c in rc.items():
        coefs[name] = coefs.get(name, 0.0) - c
    coefs = {k: c for k, c in coefs.items() if c != 0.0}
    if not coefs:
        raise ValueError(f"cannot parse {text!r}: no instrument or group name with a nonzero coefficient")
    return LinearConstraint(coefs, _CMP[tokens[j][1]], rk - lk, text)


def resolve_names(
    coefs: Mapping[str, float],
    names: Sequence[str],
    groups: Mapping[str, Sequence[str]] | None = None,
    *,
    context: str = "",
) -> np.ndarray:
    """Row ``a`` (N,) with ``a @ e = sum_j coefs_j * (exposure of instrument or group j)``.

    A group contributes its coefficient to every member. A name that is both an instrument and a
    group, or neither, raises ``ValueError`` (with close matches suggested).
    """
    groups = groups or {}
    index = {name: i for i, name in enumerate(names)}
    row = np.zeros(len(names))
    for name, c in coefs.items():
        in_inst, in_group = name in index, name in groups
        if in_inst and in_group:
            raise ValueError(f"{context}{name!r} is both an instrument and a group name")
        if in_inst:
            row[index[name]] += c
        elif in_group:
            for member in groups[name]:
                if member not in index:
                    raise ValueError(f"group {name!r} lists unknown instrument {member!r}")
                row[index[member]] += c
        else:
            close = difflib.get_close_matches(name, list(index) + list(groups), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"{context}unknown instrument or group {name!r}{hint}")
    return row


def constraint_rows(
    texts: Sequence[str],
    names: Sequence[str],
    groups: Mapping[str, Sequence[str]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Compile constraint texts to ``A_ge e >= B_ge`` and ``A_eq e == B_eq``.

    Parameters
    ----------
    texts : sequence of str
        Constraints as accepted by :func:`parse_constraint`.
    names : sequence of str, length N
        Instrument names (column order of the exposures).
    groups : mapping group name -> list of instrument names, optional

    Returns
    -------
    A_ge : (K, N), B_ge : (K,), A_eq : (K2, N), B_eq : (K2,)
        ``<=`` rows are negated into ``>=`` form.
    """
    n = len(names)
    ge_rows, ge_rhs, eq_rows, eq_rhs = [], [], [], []
    for text in texts:
        con = parse_constraint(text)
        row = resolve_names(con.coefs, names, groups, context=f"in {text!r}: ")
        if con.sense is Sense.EQ:
            eq_rows.append(row)
            eq_rhs.append(con.rhs)
        elif con.sense is Sense.GE:
            ge_rows.append(row)
            ge_rhs.append(con.rhs)
        else:
            ge_rows.append(-row)
            ge_rhs.append(-con.rhs)
    return (np.array(ge_rows, dtype=float).reshape(-1, n), np.array(ge_rhs, dtype=float),
            np.array(eq_rows, dtype=float).reshape(-1, n), np.array(eq_rhs, dtype=float))
