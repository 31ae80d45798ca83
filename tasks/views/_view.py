"""Stress views on scenario variables, turned into Entropy Pooling constraint rows.

A view states ``stat(on) op value`` about the posterior distribution of the columns of a scenario
matrix X (S, n) -- driver returns or instrument P&L, one row per scenario. All statistics are
probability weighted with divisor 1; units are those of X unless stated.

==========  ==============================  ====================================================
stat        on                              statistic under probabilities q
==========  ==============================  ====================================================
``mean``    ``"A"``                         ``E[x]``
``var``     ``"A"``                         ``E[(x - E x)^2]`` (units squared)
``vol``     ``"A"``                         ``sqrt(var)``
``skew``    ``"A"``                         ``E[(x - E x)^3] / vol^3`` (dimensionless)
``kurt``    ``"A"``                         ``E[(x - E x)^4] / vol^4`` (not excess: 3 for a normal)
``corr``    ``("A", "B")``                  ``Cov(A, B) / (vol_A vol_B)``, in [-1, 1]
``prob``    ``"A"`` and ``threshold``       ``P(x <= threshold)``, in [0, 1]
``VaR``     ``"A"`` and ``alpha``           loss quantile of ``-x`` at tail probability alpha,
                                            positive = loss (:func:`tasks.measures.value_at_risk`)
``CVaR``    ``"A"`` and ``alpha``           mean loss of the worst alpha probability mass
                                            (:func:`tasks.measures.conditional_value_at_risk`)
``rank``    ``("A", "B")``                  ``E[A] - E[B]`` ("A beats B" is ``op=">=", value=0``)
``linear``  ``{"A": 2, "B": -1}`` or        ``sum_i w_i E[x_i]``
            ``"2*A - B"``
==========  ==============================  ====================================================

``value`` is a number or an expression over the ORIGINAL prior: ``"prior"`` (keep the prior
value), ``"prior * 1.2"``, ``"prior + 0.01"``, ``"prior - 0.5*prior_vol"``. Allowed names:
``prior`` (the view's statistic under the prior), ``prior_mean`` and ``prior_vol`` (mean and vol
of the view's underlying series under the prior: the variable itself, ``A - B`` for rank, the
weighted sum for linear; corr has none). Operators ``+ - * /``, unary minus, parentheses, numbers.
The expression is parsed by the one expression grammar of the product (:mod:`tasks.expressions`),
never ``eval``.

A view becomes an Entropy Pooling row in :mod:`tasks.views._rows`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tasks.expressions import EXPRESSION_SYNTAX, Expression, parse
from tasks.vocabulary import OPS, STATS, ViewOp, ViewStat

__all__ = [
    "View",
    "Stat",
    "Op",
    "STATS",
    "OPS",
    "STAGE_OF",
    "MOMENT_STATS",
    "SINGLE_STATS",
    "PAIR_STATS",
    "TAIL_STATS",
    "NEEDS_MEAN",
    "NEEDS_VOL",
    "VALUE_NAMES",
    "Expression",
    "parse_expression",
    "parse_linear",
]

Stat = ViewStat
Op = ViewOp

#: Sequential-EP dependency class of each stat: 0 = linear as it stands, 1 = needs means,
#: 2 = needs means and variances.
STAGE_OF: Mapping[str, int] = {
    "mean": 0, "linear": 0, "rank": 0, "prob": 0, "VaR": 0, "CVaR": 0,
    "var": 1, "vol": 1,
    "skew": 2, "kurt": 2, "corr": 2,
}
MOMENT_STATS: frozenset[str] = frozenset({"mean", "var", "vol", "skew", "kurt"})
SINGLE_STATS: frozenset[str] = frozenset({"mean", "var", "vol", "skew", "kurt", "prob", "VaR", "CVaR"})
PAIR_STATS: frozenset[str] = frozenset({"corr", "rank"})
TAIL_STATS: frozenset[str] = frozenset({"VaR", "CVaR"})
#: stats whose rows need the mean / the vol of their variables as reference values
NEEDS_MEAN: frozenset[str] = frozenset({"var", "vol", "skew", "kurt", "corr"})
NEEDS_VOL: frozenset[str] = frozenset({"skew", "kurt", "corr"})
#: names a value expression may use
VALUE_NAMES: tuple[str, ...] = ("prior", "prior_mean", "prior_vol")


# ------------------------------------------------------------------------------------------------
# expressions: view values and linear views, in the one grammar of tasks.expressions
# ------------------------------------------------------------------------------------------------
def parse_expression(text: str, allowed: Sequence[str] | None = None) -> Expression:
    """Parse ``text`` (numbers, names, ``+ - * /``, unary minus, parentheses); no ``eval``.

    Parameters
    ----------
    text : the expression, e.g. ``"prior - 0.5*prior_vol"``.
    allowed : names the expression may use (None: any identifier).

    Raises
    ------
    ValueError
        On a syntax error (:class:`tasks.expressions.ExpressionError`) or a name outside
        ``allowed``.
    """
    expr = parse(text, EXPRESSION_SYNTAX)
    names = expr.names
    if allowed is not None and not names <= set(allowed):
        bad = ", ".join(sorted(names - set(allowed)))
        raise ValueError(f"unknown name(s) {bad} in {text!r}; allowed: {', '.join(allowed)}")
    return expr


def parse_linear(text: str) -> dict[str, float]:
    """Weights of a linear combination of variable names, e.g. ``"2*SPX - Bond"``.

    Returns
    -------
    dict mapping variable name to weight (in order of first appearance; repeated names add up).

    Raises
    ------
    ValueError
        If the expression is not linear (products or quotients of names), has a constant term
        (put constants into the view's value) or has no variable.
    """
    coefs, const = parse_expression(text).linear()
    if const != 0.0:
        raise ValueError(f"linear view {text!r} has a constant term; move it to the value")
    if not coefs:
        raise ValueError(f"linear view {text!r} names no variable")
    return coefs


# ------------------------------------------------------------------------------------------------
# the view
# ------------------------------------------------------------------------------------------------
def _fmt_linear(pairs: Sequence[tuple[str, float]]) -> str:
    out = ""
    for k, (name, w) in enumerate(pairs):
        sign = "-" if w < 0 else "+"
        a = abs(w)
        term = name if a == 1.0 else f"{a:g}*{name}"
        if k == 0:
            out = term if sign == "+" else f"-{term}"
        else:
            out += f" {sign} {term}"
    return out


def _stat_hint(stat: Any) -> str:
    low = str(stat).lower()
    close = [s for s in STATS if s.lower() == low]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown stat {stat!r}; expected one of {', '.join(STATS)}{hint}"


def _real(v: Any, what: str) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{what} must be finite, got {v!r}")
    return f


def _value_expression(v: str | Expression) -> Expression:
    """A view value's expression: parsed from text, or one the caller parsed (names checked)."""
    if isinstance(v, str):
        return parse_expression(v, VALUE_NAMES)
    if not v.names <= set(VALUE_NAMES):
        bad = ", ".join(sorted(v.names - set(VALUE_NAMES)))
        raise ValueError(f"unknown name(s) {bad} in {v.text!r}; allowed: {', '.join(VALUE_NAMES)}")
    return v


@dataclass(frozen=True)
class View:
    """One view ``stat(on) op value``.

    Parameters
    ----------
    stat : one of :data:`STATS` (case-sensitive: ``"var"`` is the variance, ``"VaR"`` the value
        at risk).
    on : a variable name (mean, var, vol, skew, kurt, prob, VaR, CVaR); a pair of distinct names
        (corr, rank); for linear a mapping ``{name: weight}``, a sequence of ``(name, weight)``
        pairs or a string such as ``"2*SPX - Bond"``. Normalised on construction to a ``str``, a
        ``tuple[str, str]`` or a ``tuple[tuple[str, float], ...]``.
    op : ``"="``, ``"<="`` or ``">="``.
    value : a number in the statistic's units, or an expression over the original prior (text, or
        an :class:`tasks.expressions.Expression` already parsed)
        (``"prior"``, ``"prior * 1.2"``, ``"prior - 0.5*prior_vol"``; see the module docstring).
    alpha : tail probability in (0, 1); required for VaR and CVaR (0.05 = 95 %), else None.
    confidence : c in (0, 1]; the posterior of the views is blended with the prior,
        ``c * q + (1 - c) * p`` (Meucci). See :mod:`tasks.views` for mixed confidences.
    threshold : the ``x`` in ``P(X <= x)``; required for prob, else None.

    Attributes
    ----------
    expression : the parsed value expression (None for a numeric value).
    label : e.g. ``"CVaR[0.05](SPX) <= prior*1.2"``; names the view's EP row and check.

    Raises
    ------
    ValueError
        On an unknown stat / operator, a malformed ``on``, value, alpha, threshold or confidence.
    """

    stat: Stat
    on: str | Sequence[str] | Mapping[str, float]
    op: Op
    value: float | str | Expression
    alpha: float | None = None
    confidence: float = 1.0
    threshold: float | None = None
    expression: Expression | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.stat not in STATS:
            raise ValueError(_stat_hint(self.stat))
        if self.op not in OPS:
            raise ValueError(f"unknown operator {self.op!r}; expected one of {', '.join(OPS)}")
        object.__setattr__(self, "on", self._normalise_on(self.on))
        # value
        v = self.value
        if isinstance(v, (str, Expression)):
            expr = _value_expression(v)
            if self.stat == "corr" and expr.names & {"prior_mean", "prior_vol"}:
                raise ValueError(f"corr view value {expr.text!r}: only 'prior' is defined for corr")
            object.__setattr__(self, "value", expr.text)
            object.__setattr__(self, "expression", expr)
        else:
            object.__setattr__(self, "value", _real(v, "value"))
        # alpha
        if self.stat in TAIL_STATS:
            if self.alpha is None:
                raise ValueError(f"{self.stat} view needs alpha (tail probability, e.g. 0.05)")
            a = _real(self.alpha, "alpha")
            if not 0.0 < a < 1.0:
                raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")
            object.__setattr__(self, "alpha", a)
        elif self.alpha is not None:
            raise ValueError(f"alpha applies to VaR and CVaR views only, not {self.stat}")
        # threshold
        if self.stat == "prob":
            if self.threshold is None:
                raise ValueError("prob view needs threshold (P(X <= threshold) = value)")
            object.__setattr__(self, "threshold", _real(self.threshold, "threshold"))
        elif self.threshold is not None:
            raise ValueError(f"threshold applies to prob views only, not {self.stat}")
        c = _real(self.confidence, "confidence")
        if not 0.0 < c <= 1.0:
            raise ValueError(f"confidence must be in (0, 1], got {self.confidence!r}")
        object.__setattr__(self, "confidence", c)

    def _normalise_on(self, on: Any) -> Any:
        if self.stat in SINGLE_STATS:
            if not isinstance(on, str) or not on:
                raise ValueError(f"{self.stat} view: on must be one variable name, got {on!r}")
            return on
        if self.stat in PAIR_STATS:
            if isinstance(on, str) or not isinstance(on, Sequence) or len(on) != 2:
                raise ValueError(f"{self.stat} view: on must be a pair of variable names, got {on!r}")
            a, b = on
            if not (isinstance(a, str) and isinstance(b, str)) or a == b or not a or not b:
                raise ValueError(f"{self.stat} view: on must be two distinct variable names, got {on!r}")
            return (a, b)
        # linear
        if isinstance(on, str):
            pairs = list(parse_linear(on).items())
        elif isinstance(on, Mapping):
            pairs = list(on.items())
        elif isinstance(on, Sequence):
            pairs = [tuple(t) for t in on]
            if any(len(t) != 2 for t in pairs):
                raise ValueError(f"linear view: on pairs must be (name, weight), got {on!r}")
        else:
            raise ValueError(f"linear view: on must be a mapping, pairs or a string, got {on!r}")
        out: list[tuple[str, float]] = []
        seen: set[str] = set()
        for name, w in pairs:
            if not isinstance(name, str) or not name or name in seen:
                raise ValueError(f"linear view: bad or repeated variable name {name!r}")
            seen.add(name)
            out.append((name, _real(w, f"weight of {name}")))
        if not out or all(w == 0.0 for _, w in out):
            raise ValueError("linear view needs at least one non-zero weight")
        return tuple(out)

    # ---- derived ------------------------------------------------------------------------------
    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the variables the view touches, in ``on`` order."""
        if self.stat in SINGLE_STATS:
            return (self.on,)
        if self.stat in PAIR_STATS:
            return tuple(self.on)
        return tuple(n for n, _ in self.on)

    @property
    def weights(self) -> np.ndarray:
        """(k,) weights of the underlying series for rank / linear (``(1, -1)`` for rank)."""
        if self.stat == "rank":
            return np.array([1.0, -1.0])
        if self.stat == "linear":
            return np.array([w for _, w in self.on])
        raise AttributeError(f"{self.stat} views have no weights")

    @property
    def stage(self) -> int:
        """Dependency class for Sequential EP: 0 (linear), 1 (needs means), 2 (needs vols)."""
        return STAGE_OF[self.stat]

    @property
    def on_label(self) -> str:
        if self.stat in SINGLE_STATS:
            return self.on
        if self.stat in PAIR_STATS:
            return f"{self.on[0]}, {self.on[1]}"
        return _fmt_linear(self.on)

    @property
    def label(self) -> str:
        head = f"{self.stat}[{self.alpha:g}]" if self.stat in TAIL_STATS else self.stat
        inner = f"{self.on} <= {self.threshold:g}" if self.stat == "prob" else self.on_label
        s = f"{head}({inner}) {self.op} {self.value}"
        if self.confidence != 1.0:
            s += f" (confidence {self.confidence:g})"
        return s

