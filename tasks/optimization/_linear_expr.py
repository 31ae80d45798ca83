"""Safe parser for readable linear constraints over instrument and group names.

Examples of accepted text::

    "Put_90 + Put_95 >= -0.3"
    "Equities <= 0.6"                 # a group name stands for the sum of its members' exposures
    "2*A - B <= 0.1"
    "0.5 * (Call_ATMF - Put_ATMF) == 0"
    "'SPX 4000 C' + `odd-name` >= 0"  # quote names that are not identifiers

Grammar: the ``comparison`` of :mod:`tasks.expressions` (recursive descent, no ``eval``) with
:data:`tasks.expressions.CONSTRAINT_SYNTAX` (dotted and quoted names)::

    constraint := expr CMP expr            CMP in  <=  >=  ==  =  ≤  ≥
    expr       := term (("+" | "-") term)*
    term       := factor (("*" | "/") factor)*
    factor     := ("+" | "-") factor | NUMBER | NAME | "(" expr ")"

Products of two non-constant terms, division by a non-constant and non-finite numbers raise
``ValueError`` (:class:`tasks.expressions.ExpressionError`): the result is always linear.
:func:`parse_constraint` returns a :class:`LinearConstraint` ``sum_j coef_j * name_j  (sense)  rhs``;
:func:`constraint_rows` resolves the names against the instruments and groups and returns rows of
``A e >= B`` (and ``A_eq e = B_eq``).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tasks.expressions import CONSTRAINT_SYNTAX, ExpressionError, linear_form, parse_comparison

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
    cmp = parse_comparison(text, CONSTRAINT_SYNTAX)
    lc, lk = linear_form(cmp.left, text, finite=True)
    rc, rk = linear_form(cmp.right, text, finite=True)
    coefs: dict[str, float] = dict(lc)
    for name, c in rc.items():
        coefs[name] = coefs.get(name, 0.0) - c
    coefs = {k: c for k, c in coefs.items() if c != 0.0}
    if not coefs:
        raise ExpressionError(text, "no instrument or group name with a nonzero coefficient")
    return LinearConstraint(coefs, Sense(cmp.op), rk - lk, text)


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
