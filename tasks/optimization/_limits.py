"""Risk limits on a held book: named scalar limits in the grammar of the optimisation constraints.

A *limit* compares one scalar function of the exposures ``e`` (N,) (its *term*, in exposure, Greek
or risk units) with a bound: ``term(e) <= bound``, ``term(e) >= bound`` or ``term(e) == bound``.
:func:`compile_limits` turns a :class:`Limits` record -- a :class:`tasks.optimization.Constraints`
(bounds, group bounds, linear expressions, raw ``A e >= B``, Greek bands per underlying, short /
long caps, gross leverage, margin, turnover, tracking error, risk caps under the base
probabilities) plus any :class:`RiskLimit` (a cap on any of the ten risk measures under *given*
probabilities, e.g. a view set's posterior) -- into one :class:`LimitRow` per finite side, each
with a unique name:

=====================  ====================================  =====================================
family                 name                                  term
=====================  ====================================  =====================================
``bound``              ``bound[SPX_fut] >=`` / ``<=``        ``e_i``
``group``              ``group[Equities] >=`` / ``<=``       summed exposure of the group
``linear``             the constraint text                   its left side minus its right side's
                                                             names (``Sense`` as written)
``ainequality``        ``ainequality[r]``                    ``A[r] @ e`` (``>= B[r]``)
``greek``              ``vega[SPX] >=`` / ``<=``             portfolio Greek ``G[r] @ e``
``leverage`` ...       ``leverage``, ``margin``,             ``sum_i w_i |e_i - c_i|``
                       ``turnover``
``short`` / ``long``   ``uppersht`` / ``upperlng``           ``sum max(-e_i, 0)`` / ``sum max(e_i, 0)``
``tracking_error``     ``TE``                                ``||F [e; 1]||_2``
``risk``               ``upperCVaR`` (``[label]``)           the measure of the P&L ``R e``
=====================  ====================================  =====================================

A band with equal sides becomes one ``==`` row. Each entry of the Greek limits is its own limit (so
two bands that contradict each other on the same row stay two named limits instead of a compile
error). The blocks are compiled by :func:`tasks.optimization.compile_constraints` and the risk
measures come from :mod:`tasks.optimization` (:func:`evaluate` for values by :mod:`tasks.measures`,
:func:`risk_model` for the convex formulation), so limits mean exactly what the constraints mean.

:func:`evaluate_limits` gives, per limit, the value on a book, the bound, ``excess`` (by how much
the bound is exceeded: ``value - bound`` for ``<=``, ``bound - value`` for ``>=``,
``|value - bound|`` for ``==``; <= 0 is headroom) and ``breached = excess > tol`` (``tol = 0``: a
value exactly at its bound is *not* a breach).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import cvxpy as cp
import numpy as np
import pandas as pd

from tasks.optimization._constraints import (
    CompiledConstraints,
    Constraints,
    GreekLimits,
    _greek_rows,
    compile_constraints,
)
from tasks.optimization._linear_expr import parse_constraint, resolve_names
from tasks.optimization._risk_models import ScenarioData, evaluate, risk_model
from tasks.vocabulary import CAP_FIELDS, RiskMeasure

__all__ = [
    "RiskLimit",
    "Limits",
    "LimitRow",
    "CompiledLimits",
    "LIMIT_COLUMNS",
    "compile_limits",
    "evaluate_limits",
]

LimitSense = Literal["<=", ">=", "=="]
#: Columns of :func:`evaluate_limits` (``limits.parquet``).
LIMIT_COLUMNS: tuple[str, ...] = ("limit", "family", "sense", "value", "bound", "excess", "breached")
#: Risk measures whose formulation is a second-order cone (the others are linear programs).
_CONIC = frozenset({RiskMeasure.MV, RiskMeasure.MSV, RiskMeasure.SLPM})

Formulation = tuple[Any, list[cp.Constraint]]


@dataclass(frozen=True)
class RiskLimit:
    """Cap ``risk(R e) <= cap`` on one risk measure under given scenario probabilities.

    Attributes
    ----------
    measure : risk measure code (:class:`tasks.vocabulary.RiskMeasure`); MV caps the standard
        deviation.
    cap : the cap, in the measure's units (P&L per unit of portfolio value).
    p : (S,) scenario probabilities (renormalised), e.g. a view set's posterior; None = the base
        probabilities given to :func:`compile_limits`. Drawdown measures use the paths given there.
    alpha : tail probability of CVaR / CDaR.
    rf : threshold of FLPM / SLPM (P&L units).
    demean : the scenario measures see ``P&L - expected P&L``.
    label : where the probabilities come from (e.g. a view set name), shown in the default name.
    name : the limit's name; default ``upperCVaR`` or ``upperCVaR[label]``.
    """

    measure: RiskMeasure | str
    cap: float
    p: Any = None
    alpha: float = 0.05
    rf: float = 0.0
    demean: bool = False
    label: str = ""
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "measure", RiskMeasure(self.measure))
        if not np.isfinite(float(self.cap)):
            raise ValueError(f"risk limit cap must be finite, got {self.cap!r}")
        if not 0.0 < float(self.alpha) < 1.0:
            raise ValueError(f"risk limit alpha must be in (0, 1), got {self.alpha!r}")

    @property
    def default_name(self) -> str:
        base = CAP_FIELDS[RiskMeasure(self.measure)]
        return self.name or (f"{base}[{self.label}]" if self.label else base)


@dataclass(frozen=True)
class Limits:
    """The limits on a book: a constraint set plus risk caps under given probabilities.

    Attributes
    ----------
    constraints : :class:`tasks.optimization.Constraints` (its risk caps use the base
        probabilities, ``alpha``, ``rf`` and ``demean`` of :func:`compile_limits`).
    risk : further :class:`RiskLimit` caps.
    """

    constraints: Constraints | None = None
    risk: Sequence[RiskLimit] = ()


# ---------------------------------------------------------------------------------------------
# terms: a scalar function of e, as a number (value) and as a cvxpy expression (formulation)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LinearTerm:
    """``a @ e``; a (N,)."""

    a: np.ndarray
    linear = True

    def value(self, e: np.ndarray) -> float:
        return float(self.a @ e)

    def formulation(self, y: cp.Expression) -> Formulation:
        return self.a @ y, []


@dataclass(frozen=True, eq=False)
class AbsTerm:
    """``sum_i weights_i |e_i - center_i|`` (compiled :class:`tasks.optimization.AbsSum`)."""

    weights: np.ndarray
    center: np.ndarray
    linear = True

    def value(self, e: np.ndarray) -> float:
        return float(self.weights @ np.abs(e - self.center))

    def formulation(self, y: cp.Expression) -> Formulation:
        return self.weights @ cp.abs(y - self.center), []


@dataclass(frozen=True, eq=False)
class SignedTerm:
    """``sum_i max(-e_i, 0)`` (side ``short``) or ``sum_i max(e_i, 0)`` (``long``)."""

    side: Literal["short", "long"]
    linear = True

    def value(self, e: np.ndarray) -> float:
        return float(np.maximum(-e if self.side == "short" else e, 0.0).sum())

    def formulation(self, y: cp.Expression) -> Formulation:
        return cp.sum(cp.neg(y) if self.side == "short" else cp.pos(y)), []


@dataclass(frozen=True, eq=False)
class TrackingTerm:
    """``||factor @ [e; 1]||_2`` (compiled :class:`tasks.optimization.TrackingError`)."""

    factor: np.ndarray
    linear = False

    def value(self, e: np.ndarray) -> float:
        n = e.shape[0]
        return float(np.linalg.norm(self.factor[:, :n] @ e + self.factor[:, n]))

    def formulation(self, y: cp.Expression) -> Formulation:
        n = y.shape[0]
        return cp.norm(self.factor[:, :n] @ y + self.factor[:, n], 2), []


@dataclass(frozen=True, eq=False)
class RiskTerm:
    """A risk measure of the P&L ``R e`` under ``data``'s probabilities."""

    measure: RiskMeasure
    data: ScenarioData
    alpha: float
    rf: float

    @property
    def linear(self) -> bool:
        return self.measure not in _CONIC

    def value(self, e: np.ndarray) -> float:
        return evaluate(self.measure, self.data, e, alpha=self.alpha, rf=self.rf)

    def formulation(self, y: cp.Expression) -> Formulation:
        return risk_model(self.measure, self.data, y, 1.0, alpha=self.alpha, rf=self.rf)


Term = LinearTerm | AbsTerm | SignedTerm | TrackingTerm | RiskTerm


@dataclass(frozen=True)
class LimitRow:
    """One named limit ``term(e) sense bound``."""

    name: str
    family: str
    sense: LimitSense
    bound: float
    term: Term


@dataclass(frozen=True)
class CompiledLimits:
    """Named limits on exposures of ``n`` instruments.

    Attributes
    ----------
    rows : the limits, in the order of the families in the module docstring.
    n : number of instruments.
    names : instrument names (or None).
    """

    rows: tuple[LimitRow, ...]
    n: int
    names: tuple[str, ...] | None = None

    @property
    def is_lp(self) -> bool:
        """True when every limit is linear-programming representable."""
        return all(row.term.linear for row in self.rows)

    def values(self, e: np.ndarray) -> np.ndarray:
        """(K,) the term of every limit at exposures ``e`` (N,) (each shared term computed once)."""
        e = np.asarray(e, dtype=float)
        if e.shape != (self.n,):
            raise ValueError(f"exposures have shape {e.shape}, expected ({self.n},)")
        cache: dict[int, float] = {}
        out = np.empty(len(self.rows))
        for k, row in enumerate(self.rows):
            key = id(row.term)
            if key not in cache:
                cache[key] = row.term.value(e)
            out[k] = cache[key]
        return out

    def excess(self, e: np.ndarray) -> np.ndarray:
        """(K,) by how much each bound is exceeded at ``e`` (<= 0: met, with that headroom)."""
        return _excess(self.values(e), self.rows)


def _excess(values: np.ndarray, rows: Sequence[LimitRow]) -> np.ndarray:
    bound = np.array([r.bound for r in rows], dtype=float)
    sense = np.array([r.sense for r in rows], dtype=object)
    return np.where(sense == "<=", values - bound,
                    np.where(sense == ">=", bound - values, np.abs(values - bound)))


# ---------------------------------------------------------------------------------------------
# compilation
# ---------------------------------------------------------------------------------------------
def _band(name: str, family: str, lo: float, hi: float, term: Term) -> list[LimitRow]:
    """Rows of ``lo <= term <= hi`` (one ``==`` row when ``lo == hi``; infinite sides dropped)."""
    if lo == hi:
        return [LimitRow(f"{name} ==", family, "==", float(lo), term)]
    rows = []
    if np.isfinite(lo):
        rows.append(LimitRow(f"{name} >=", family, ">=", float(lo), term))
    if np.isfinite(hi):
        rows.append(LimitRow(f"{name} <=", family, "<=", float(hi), term))
    return rows


def _bound_rows(lower: np.ndarray, upper: np.ndarray, names: Sequence[str]) -> list[LimitRow]:
    rows: list[LimitRow] = []
    for i, inst in enumerate(names):
        if np.isfinite(lower[i]) or np.isfinite(upper[i]):
            unit = np.zeros(len(names))
            unit[i] = 1.0
            rows += _band(f"bound[{inst}]", "bound", lower[i], upper[i], LinearTerm(unit))
    return rows


def _text_rows(cons: Constraints, names: Sequence[str] | None) -> list[LimitRow]:
    """One row per linear text, oriented as written (parsed by :func:`parse_constraint`)."""
    rows = []
    for text in cons.linear:
        con = parse_constraint(text)
        a = resolve_names(con.coefs, names or (), cons.groups, context=f"in {text!r}: ")
        rows.append(LimitRow(text, "linear", str(con.sense.value), float(con.rhs), LinearTerm(a)))
    return rows


def _greek_limit_rows(g: GreekLimits, n: int) -> list[LimitRow]:
    """Each entry of ``g.limits`` (and ``delta_neutral``) as its own band per matched row."""
    G = np.asarray(g.matrix, dtype=float)
    _greek_rows(replace(g, limits={}, delta_neutral=False), n)  # validates the matrix and row labels
    entries: list[GreekLimits] = [replace(g, limits={key: lim}, delta_neutral=False) for key, lim in g.limits.items()]
    if g.delta_neutral:
        entries.append(replace(g, limits={}))
    rows: list[LimitRow] = []
    k = G.shape[0]
    for entry in entries:
        # compile the entry on the identity matrix: its rows say which Greek rows it bounds
        for block in _greek_rows(replace(entry, matrix=np.eye(k)), k):
            for marker, lo, hi in zip(block.A, block.lo, block.hi):
                r = int(np.argmax(marker))
                greek, und = g.rows[r]
                rows += _band(f"{greek}[{und}]", "greek", lo, hi, LinearTerm(G[r]))
    return rows


def _block_rows(cc: CompiledConstraints) -> list[LimitRow]:
    """Rows of the compiled group bounds, raw inequalities and absolute / signed / TE caps."""
    rows: list[LimitRow] = []
    for block in cc.linear:
        if block.label.startswith("group "):
            rows += _band(f"group[{block.label[6:]}]", "group", block.lo[0], block.hi[0], LinearTerm(block.A[0]))
        elif block.label == "ainequality":
            rows += [LimitRow(f"ainequality[{r}]", "ainequality", ">=", float(block.lo[r]), LinearTerm(block.A[r]))
                     for r in range(block.A.shape[0])]
    for b in cc.absolute:
        rows.append(LimitRow(b.label, b.label, "<=", b.cap, AbsTerm(b.weights, b.center)))
    for s in cc.signed:
        rows.append(LimitRow(s.label, s.side, "<=", s.cap, SignedTerm(s.side)))
    for te in cc.tracking:
        rows.append(LimitRow(te.label, "tracking_error", "<=", te.cap, TrackingTerm(te.factor)))
    return rows


def _risk_rows(limits: Sequence[RiskLimit], R: np.ndarray, base: ScenarioData,
               paths: np.ndarray | None, path_p: np.ndarray | None) -> list[LimitRow]:
    rows: list[LimitRow] = []
    datas: dict[tuple[int, bool], ScenarioData] = {}
    for lim in limits:
        if lim.p is None and lim.demean == base.demean:
            data = base
        else:
            key = (id(lim.p), lim.demean)
            if key not in datas:
                p = base.p if lim.p is None else lim.p
                datas[key] = ScenarioData(R, p, demean=lim.demean, paths=paths, path_p=path_p)
            data = datas[key]
        term = RiskTerm(RiskMeasure(lim.measure), data, float(lim.alpha), float(lim.rf))
        rows.append(LimitRow(lim.default_name, "risk", "<=", float(lim.cap), term))
    return rows


def _unique(rows: list[LimitRow]) -> tuple[LimitRow, ...]:
    """Make the names unique (``name #2``, ``name #3`` for repeats)."""
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        count = seen.get(row.name, 0) + 1
        seen[row.name] = count
        out.append(row if count == 1 else replace(row, name=f"{row.name} #{count}"))
    return tuple(out)


def compile_limits(
    limits: Limits | Constraints | None,
    *,
    R: np.ndarray,
    p: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    alpha: float = 0.05,
    rf: float = 0.0,
    demean: bool = False,
    paths: np.ndarray | None = None,
    path_p: np.ndarray | None = None,
) -> CompiledLimits:
    """Validate ``limits`` and compile them to named :class:`LimitRow` s.

    Parameters
    ----------
    limits : Limits, or a bare Constraints, or None (no limits).
    R : (S, N) P&L per unit exposure (risk caps, tracking error).
    p : (S,) base scenario probabilities (None = uniform): those of the constraint set's risk
        caps and tracking error, and of every :class:`RiskLimit` without its own ``p``.
    names : N instrument names (needed by name-based inputs, texts, groups; used in row names).
    alpha, rf, demean : of the constraint set's risk caps (as in :class:`PortfolioProblem`).
    paths, path_p : (P, T, N) per-step P&L paths and (P,) path probabilities (drawdown caps).

    Returns
    -------
    CompiledLimits
    """
    if isinstance(limits, Constraints) or limits is None:
        limits = Limits(constraints=limits)
    cons = limits.constraints or Constraints()
    base = ScenarioData(R, p, demean=demean, paths=paths, path_p=path_p)
    n = base.n
    cc = compile_constraints(replace(cons, greeks=None), R=base.R, p=base.p, names=names)
    inst = list(names) if names is not None else [str(i) for i in range(n)]
    caps = [RiskLimit(rm, cap, alpha=alpha, rf=rf, demean=demean) for rm, cap in cc.caps.items()]
    rows = _bound_rows(cc.bounds.lower, cc.bounds.upper, inst)
    rows += _text_rows(cons, names)
    rows += _block_rows(cc)
    if cons.greeks is not None:
        rows += _greek_limit_rows(cons.greeks, n)
    rows += _risk_rows([*caps, *limits.risk], base.R, base, paths, path_p)
    return CompiledLimits(_unique(rows), n, tuple(names) if names is not None else None)


def evaluate_limits(limits: CompiledLimits, e: np.ndarray, *, tol: float = 0.0) -> pd.DataFrame:
    """Every limit on the book ``e`` (N,): one row per limit, columns :data:`LIMIT_COLUMNS`.

    ``excess`` is by how much the bound is exceeded (limit units; <= 0 = headroom) and
    ``breached = excess > tol``: with the default ``tol = 0`` a value exactly at its bound is not
    a breach, and any value beyond it is.
    """
    values = limits.values(e)
    excess = _excess(values, limits.rows)
    return pd.DataFrame({
        "limit": [r.name for r in limits.rows],
        "family": [r.family for r in limits.rows],
        "sense": [r.sense for r in limits.rows],
        "value": values,
        "bound": np.array([r.bound for r in limits.rows], dtype=float),
        "excess": excess,
        "breached": excess > float(tol),
    }, columns=list(LIMIT_COLUMNS))
