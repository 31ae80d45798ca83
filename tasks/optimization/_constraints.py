"""Portfolio constraints: a declarative :class:`Constraints` record and its compiled form.

Every constraint is stated for exposures ``e`` (N,) under the budget ``v^T e = 1`` and compiled into
*homogeneous* blocks in ``(y, k)``: with ``k = 1`` and ``y = e`` they are the constraints as
written; with ``y = kappa * e`` and ``k = kappa >= 0`` they are their Charnes-Cooper versions used
by the risk-adjusted-ratio (Sharpe) objective. Each family has the form ``g(y - c k) <= d k`` with
``g`` positively homogeneous, so ``e`` satisfies it iff ``(kappa e, kappa)`` does.

Blocks (all exposure units; ``k`` is 1 or the Charnes-Cooper scale):

* :class:`Bounds` -- ``lower * k <= y <= upper * k`` per instrument (``sht=False`` sets lower >= 0);
* :class:`LinearRows` -- ``lo * k <= A y <= hi * k`` (groups, text expressions, raw ``A e >= B``,
  Greek limits);
* :class:`AbsSum` -- ``sum_i w_i |y_i - c_i k| <= cap * k`` (gross leverage, margin, turnover);
* :class:`SignedSum` -- ``sum_i max(-y_i, 0) <= cap * k`` (shorts) or ``sum_i max(y_i, 0)``
  (longs);
* :class:`TrackingError` -- ``||F [y; k]||_2 <= cap * k`` with ``F^T F`` the probability-weighted
  covariance of ``(P&L per unit, -benchmark P&L)``;
* risk caps -- ``risk_m(e) <= cap_m`` for any of the ten measures (formulated in
  :mod:`tasks.optimization`).

:func:`to_cvxpy` turns the blocks into cvxpy constraints; :mod:`tasks.optimization` turns the linear
ones into rows of a HiGHS model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import cvxpy as cp
import numpy as np
from numpy.typing import ArrayLike

from tasks._arrays import aligned
from tasks.optimization._linear_expr import constraint_rows, resolve_names
from tasks.vocabulary import CAP_FIELDS, Greek, RiskMeasure

__all__ = [
    "Greek",
    "GreekLimits",
    "Constraints",
    "RISK_CAP_FIELDS",
    "Bounds",
    "LinearRows",
    "AbsSum",
    "SignedSum",
    "TrackingError",
    "CompiledConstraints",
    "compile_constraints",
    "to_cvxpy",
]

#: Riskfolio-Lib's names of the risk caps -> the measure they cap (caps in the measure's units).
RISK_CAP_FIELDS: dict[str, RiskMeasure] = {field: rm for rm, field in CAP_FIELDS.items()}


Limit = tuple[float | None, float | None]


@dataclass(frozen=True)
class GreekLimits:
    """Limits on portfolio Greeks ``G e`` per (greek, underlying).

    Parameters
    ----------
    matrix : array_like, shape (K, N)
        Greek of one unit of exposure of each instrument; row ``r`` is the Greek ``rows[r]``.
    rows : sequence of (greek, underlying), length K
        ``greek`` one of :class:`tasks.vocabulary.Greek` (delta, gamma, vega, theta, rho, convexity).
    limits : mapping, optional
        ``(greek, underlying) -> (lo, hi)`` for one row, or ``greek -> (lo, hi)`` for every row of
        that Greek; ``None`` = unbounded side. Portfolio Greek ``G[r] @ e`` must lie in
        ``[lo, hi]``.
    delta_neutral : bool
        Shorthand for ``|delta| <= neutral_tol`` on every delta row.
    neutral_tol : float
        Tolerance of ``delta_neutral`` (Greek units per unit budget).
    """

    matrix: ArrayLike
    rows: Sequence[tuple[str, str]]
    limits: Mapping[str | tuple[str, str], Limit] = field(default_factory=dict)
    delta_neutral: bool = False
    neutral_tol: float = 1e-6


@dataclass(frozen=True)
class Constraints:
    """All optional portfolio constraints (``None`` / empty = not imposed).

    Attributes
    ----------
    bounds : (lower, upper) scalars or (N,) arrays, or mapping name -> (lo, hi); exposure units.
    groups : mapping group name -> list of instrument names (used by ``group_bounds`` and by
        ``linear`` expressions, where a group name stands for the sum of its members).
    group_bounds : mapping group name -> (lo, hi) on the group's summed exposure.
    sht : allow short positions (False adds ``e >= 0``).
    uppersht : cap on the sum of short positions ``sum max(-e_i, 0)``.
    upperlng : cap on the sum of long positions ``sum max(e_i, 0)``.
    leverage : gross leverage cap ``sum |e_i|``.
    margin_rates : (N,) per-unit margin rates ``m_i >= 0`` (array or mapping name -> rate).
    margin : cap on the margin ``sum m_i |e_i|``.
    linear : constraint texts, e.g. ``"Put_90 + Put_95 >= -0.3"`` (see :mod:`tasks.optimization`).
    ainequality, binequality : raw ``A e >= B`` with A (K, N), B (K,).
    holdings : (N,) current exposures ``e0`` for the turnover constraint (default zeros).
    turnover : turnover cap ``sum |e_i - e0_i|``.
    benchmark : (N,) benchmark exposures (its P&L is ``R @ benchmark``), or
    benchmark_pnl : (S,) benchmark / index P&L per scenario; exactly one with ``TE``.
    TE : tracking-error cap: probability-weighted std of ``R e - benchmark P&L``.
    upperdev ... upperCDaR : caps on the ten risk measures (see :data:`RISK_CAP_FIELDS`), in the
        measure's units (``upperdev`` caps the standard deviation).
    greeks : :class:`GreekLimits`.
    """

    bounds: Any = None
    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)
    group_bounds: Mapping[str, Limit] = field(default_factory=dict)
    sht: bool = True
    uppersht: float | None = None
    upperlng: float | None = None
    leverage: float | None = None
    margin_rates: Any = None
    margin: float | None = None
    linear: Sequence[str] = ()
    ainequality: ArrayLike | None = None
    binequality: ArrayLike | None = None
    holdings: Any = None
    turnover: float | None = None
    benchmark: Any = None
    benchmark_pnl: ArrayLike | None = None
    TE: float | None = None
    upperdev: float | None = None
    uppermad: float | None = None
    uppersdev: float | None = None
    upperflpm: float | None = None
    upperslpm: float | None = None
    upperCVaR: float | None = None
    upperwr: float | None = None
    uppermdd: float | None = None
    upperadd: float | None = None
    upperCDaR: float | None = None
    greeks: GreekLimits | None = None

    def __post_init__(self) -> None:
        if isinstance(self.linear, str):
            object.__setattr__(self, "linear", (self.linear,))
        for f in fields(self):
            if f.name in RISK_CAP_FIELDS or f.name in ("uppersht", "upperlng", "leverage", "margin",
                                                       "turnover", "TE"):
                val = getattr(self, f.name)
                if val is not None and not np.isfinite(float(val)):
                    raise ValueError(f"{f.name} must be finite or None, got {val!r}")
        for name in ("uppersht", "upperlng", "leverage", "margin", "turnover", "TE"):
            val = getattr(self, name)
            if val is not None and float(val) < 0.0:
                raise ValueError(f"{name} must be >= 0, got {val!r}")

    def caps(self) -> dict[RiskMeasure, float]:
        """The risk caps that are set, as ``{RiskMeasure: cap}``."""
        return {rm: float(getattr(self, name)) for name, rm in RISK_CAP_FIELDS.items()
                if getattr(self, name) is not None}


# ---------------------------------------------------------------------------------------------
# compiled blocks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bounds:
    """``lower * k <= y <= upper * k`` (N,) each, infinite entries not imposed."""

    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class LinearRows:
    """``lo * k <= A y <= hi * k``; A (m, N), lo/hi (m,) with +-inf for one-sided rows."""

    A: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    label: str


@dataclass(frozen=True)
class AbsSum:
    """``sum_i weights_i |y_i - center_i k| <= cap * k`` (weights >= 0)."""

    weights: np.ndarray
    center: np.ndarray
    cap: float
    label: str


@dataclass(frozen=True)
class SignedSum:
    """``sum_i max(-y_i, 0) <= cap k`` (side "short") or ``sum_i max(y_i, 0) <= cap k`` ("long")."""

    side: Literal["short", "long"]
    cap: float
    label: str


@dataclass(frozen=True)
class TrackingError:
    """``||factor @ [y; k]||_2 <= cap * k``; factor (N+1, N+1)."""

    factor: np.ndarray
    cap: float
    label: str = "TE"


@dataclass(frozen=True)
class CompiledConstraints:
    """The homogeneous blocks of one constraint set (see the module docstring)."""

    bounds: Bounds
    linear: tuple[LinearRows, ...]
    absolute: tuple[AbsSum, ...]
    signed: tuple[SignedSum, ...]
    tracking: tuple[TrackingError, ...]
    caps: Mapping[RiskMeasure, float]

    @property
    def is_lp(self) -> bool:
        """True when every block is linear (no tracking error, no risk caps)."""
        return not self.tracking and not self.caps

    def bounded(self, v: np.ndarray) -> bool:
        """A sufficient test that ``{e : constraints, v^T e = 1}`` is bounded."""
        lo, hi = self.bounds.lower, self.bounds.upper
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            return True
        if any(np.all(b.weights > 0) and np.allclose(b.center, 0.0) for b in self.absolute):
            return True
        # all lower bounds finite and v > 0: v^T e = 1 caps every exposure from above
        return bool(np.isfinite(lo).all() and np.all(v > 0))


def _vector(x: Any, n: int, names: Sequence[str] | None, what: str, default: float = 0.0) -> np.ndarray:
    """(N,) float vector from an array/scalar or a mapping name -> value (missing = default)."""
    if isinstance(x, Mapping):
        if names is None:
            raise ValueError(f"{what} is given by instrument name; pass names=")
        out = np.full(n, default, dtype=float)
        index = {name: i for i, name in enumerate(names)}
        for key, val in x.items():
            if key not in index:
                raise ValueError(f"{what}: unknown instrument {key!r}")
            out[index[key]] = float(val)
        return out
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{what} has shape {arr.shape}, expected ({n},)")
    return arr.copy()


def _limit(lim: Limit, what: str) -> tuple[float, float]:
    try:
        lo, hi = lim
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a (lo, hi) pair, got {lim!r}") from None
    lo = -np.inf if lo is None else float(lo)
    hi = np.inf if hi is None else float(hi)
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(f"{what} has a NaN limit")
    if lo > hi:
        raise ValueError(f"{what}: lower limit {lo} exceeds upper limit {hi}")
    return lo, hi


def _bounds(spec: Any, n: int, names: Sequence[str] | None, what: str) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    if spec is None:
        return lo, hi
    if isinstance(spec, Mapping):
        if names is None:
            raise ValueError(f"{what} are given by instrument name; pass names=")
        index = {name: i for i, name in enumerate(names)}
        for key, lim in spec.items():
            if key not in index:
                raise ValueError(f"{what}: unknown instrument {key!r}")
            lo[index[key]], hi[index[key]] = _limit(lim, f"{what}[{key!r}]")
        return lo, hi
    try:
        a, b = spec
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be (lower, upper) or a mapping name -> (lo, hi)") from None
    lo = np.full(n, -np.inf) if a is None else _vector(a, n, names, f"{what} lower")
    hi = np.full(n, np.inf) if b is None else _vector(b, n, names, f"{what} upper")
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise ValueError(f"{what} contain NaN")
    return lo, hi


def _greek_rows(g: GreekLimits, n: int) -> list[LinearRows]:
    G = np.asarray(g.matrix, dtype=float)
    if G.ndim != 2 or G.shape[1] != n:
        raise ValueError(f"greeks.matrix has shape {G.shape}, expected (K, {n})")
    if len(g.rows) != G.shape[0]:
        raise ValueError(f"greeks.rows has {len(g.rows)} labels for {G.shape[0]} matrix rows")
    if not np.isfinite(G).all():
        raise ValueError("greeks.matrix must be finite")
    labels = []
    for r, label in enumerate(g.rows):
        try:
            greek, und = label
        except (TypeError, ValueError):
            raise ValueError(f"greeks.rows[{r}] must be a (greek, underlying) pair, got {label!r}") from None
        labels.append((Greek(greek), str(und)))
    lo, hi = np.full(len(labels), -np.inf), np.full(len(labels), np.inf)
    for key, lim in g.limits.items():
        if isinstance(key, tuple):
            target = (Greek(key[0]), str(key[1]))
            hit = [r for r, lab in enumerate(labels) if lab == target]
        else:
            target = Greek(key)
            hit = [r for r, lab in enumerate(labels) if lab[0] is target]
        if not hit:
            raise ValueError(f"greek limit {key!r} matches no row of greeks.rows")
        a, b = _limit(lim, f"greek limit {key!r}")
        lo[hit], hi[hit] = np.maximum(lo[hit], a), np.minimum(hi[hit], b)
    if g.delta_neutral:
        tol = float(g.neutral_tol)
        if not tol >= 0.0:
            raise ValueError(f"greeks.neutral_tol must be >= 0, got {g.neutral_tol!r}")
        hit = [r for r, lab in enumerate(labels) if lab[0] is Greek.delta]
        if not hit:
            raise ValueError("delta_neutral=True but greeks.rows has no delta row")
        lo[hit], hi[hit] = np.maximum(lo[hit], -tol), np.minimum(hi[hit], tol)
    if (lo > hi).any():
        raise ValueError("greek limits contradict each other (lower > upper)")
    keep = np.isfinite(lo) | np.isfinite(hi)
    return [LinearRows(G[keep], lo[keep], hi[keep], "greeks")] if keep.any() else []


def _tracking_factor(R: np.ndarray, p: np.ndarray, bench: np.ndarray) -> np.ndarray:
    """Upper-triangular (N+1, N+1) F with ``F^T F`` the p-weighted covariance of ``[R, -bench]``."""
    keep = p > 0
    Z = np.hstack([R[keep], -bench[keep, None]])
    q = p[keep]
    Zc = (Z - q @ Z) * np.sqrt(q)[:, None]
    return np.linalg.qr(Zc, mode="r")


def _exposure_bounds(cons: Constraints, n: int, names: Sequence[str] | None, bounds: Any) -> Bounds:
    """Per-instrument bounds: ``bounds`` intersected with ``cons.bounds`` (and ``e >= 0`` if not sht)."""
    lo1, hi1 = _bounds(bounds, n, names, "bounds")
    lo2, hi2 = _bounds(cons.bounds, n, names, "constraints.bounds")
    lo, hi = np.maximum(lo1, lo2), np.minimum(hi1, hi2)
    if not cons.sht:
        lo = np.maximum(lo, 0.0)
    if (lo > hi).any():
        bad = int(np.flatnonzero(lo > hi)[0])
        raise ValueError(f"exposure bounds are empty for instrument {names[bad] if names else bad}: "
                         f"lower {lo[bad]} > upper {hi[bad]}")
    return Bounds(lo, hi)


def _linear_blocks(cons: Constraints, n: int, names: Sequence[str] | None) -> list[LinearRows]:
    """Group bounds, text expressions, raw ``A e >= B`` and Greek limits, in that order."""
    linear: list[LinearRows] = []
    for group, lim in cons.group_bounds.items():
        if group not in cons.groups:
            raise ValueError(f"group_bounds names unknown group {group!r}")
        if names is None:
            raise ValueError("group constraints need instrument names; pass names=")
        row = resolve_names({group: 1.0}, names, cons.groups, context="group_bounds: ")
        a, b = _limit(lim, f"group_bounds[{group!r}]")
        linear.append(LinearRows(row[None, :], np.array([a]), np.array([b]), f"group {group}"))
    if cons.linear:
        if names is None:
            raise ValueError("text linear constraints need instrument names; pass names=")
        A_ge, B_ge, A_eq, B_eq = constraint_rows(list(cons.linear), names, cons.groups)
        if len(B_ge):
            linear.append(LinearRows(A_ge, B_ge, np.full(len(B_ge), np.inf), "linear"))
        if len(B_eq):
            linear.append(LinearRows(A_eq, B_eq, B_eq.copy(), "linear (equality)"))
    if (cons.ainequality is None) != (cons.binequality is None):
        raise ValueError("ainequality and binequality go together (A e >= B)")
    if cons.ainequality is not None:
        A = np.atleast_2d(np.asarray(cons.ainequality, dtype=float))
        B = np.atleast_1d(np.asarray(cons.binequality, dtype=float)).ravel()
        if A.shape != (B.shape[0], n):
            raise ValueError(f"ainequality has shape {A.shape}, expected ({B.shape[0]}, {n}) to match binequality")
        if not (np.isfinite(A).all() and np.isfinite(B).all()):
            raise ValueError("ainequality / binequality must be finite")
        linear.append(LinearRows(A, B, np.full(len(B), np.inf), "ainequality"))
    if cons.greeks is not None:
        linear.extend(_greek_rows(cons.greeks, n))
    return linear


def _absolute_blocks(cons: Constraints, n: int, names: Sequence[str] | None) -> list[AbsSum]:
    """Gross leverage, margin and turnover caps (``sum_i w_i |e_i - c_i| <= cap``)."""
    absolute: list[AbsSum] = []
    zeros = np.zeros(n)
    if cons.leverage is not None:
        absolute.append(AbsSum(np.ones(n), zeros, float(cons.leverage), "leverage"))
    if (cons.margin is None) != (cons.margin_rates is None):
        raise ValueError("margin (cap) and margin_rates go together")
    if cons.margin is not None:
        m = _vector(cons.margin_rates, n, names, "margin_rates")
        if (m < 0).any() or not np.isfinite(m).all():
            raise ValueError("margin_rates must be finite and >= 0")
        absolute.append(AbsSum(m, zeros, float(cons.margin), "margin"))
    if cons.turnover is not None:
        e0 = zeros if cons.holdings is None else _vector(cons.holdings, n, names, "holdings")
        if not np.isfinite(e0).all():
            raise ValueError("holdings must be finite")
        absolute.append(AbsSum(np.ones(n), e0, float(cons.turnover), "turnover"))
    elif cons.holdings is not None:
        _vector(cons.holdings, n, names, "holdings")  # validate anyway
    return absolute


def _signed_blocks(cons: Constraints) -> list[SignedSum]:
    """Caps on the summed short and long positions."""
    signed: list[SignedSum] = []
    if cons.uppersht is not None:
        signed.append(SignedSum("short", float(cons.uppersht), "uppersht"))
    if cons.upperlng is not None:
        signed.append(SignedSum("long", float(cons.upperlng), "upperlng"))
    return signed


def _tracking_blocks(cons: Constraints, R: np.ndarray, p: np.ndarray,
                     names: Sequence[str] | None) -> list[TrackingError]:
    """The tracking-error cap against benchmark exposures or benchmark P&L."""
    s, n = R.shape
    tracking: list[TrackingError] = []
    has_bench = (cons.benchmark is not None, cons.benchmark_pnl is not None)
    if all(has_bench):
        raise ValueError("give the benchmark either as exposures (benchmark) or as P&L (benchmark_pnl), not both")
    if cons.TE is not None:
        if not any(has_bench):
            raise ValueError("TE needs a benchmark: benchmark= exposures (N,) or benchmark_pnl= (S,)")
        if cons.benchmark is not None:
            bench = R @ _vector(cons.benchmark, n, names, "benchmark")
        else:
            bench = aligned(cons.benchmark_pnl)
            if bench.shape != (s,):
                raise ValueError(f"benchmark_pnl has shape {bench.shape}, expected ({s},)")
        if not np.isfinite(bench[p > 0]).all():
            raise ValueError("benchmark P&L must be finite")
        tracking.append(TrackingError(_tracking_factor(R, p, bench), float(cons.TE)))
    return tracking


def compile_constraints(
    cons: Constraints | None,
    *,
    R: np.ndarray,
    p: np.ndarray,
    names: Sequence[str] | None = None,
    bounds: Any = None,
) -> CompiledConstraints:
    """Validate ``cons`` and compile it to homogeneous blocks.

    Parameters
    ----------
    cons : Constraints or None
    R : (S, N) P&L per unit exposure (for the tracking-error factor and benchmark P&L).
    p : (S,) scenario probabilities (normalised).
    names : N instrument names (needed by name-based inputs and text expressions).
    bounds : extra (lower, upper) exposure bounds, intersected with ``cons.bounds``.

    Returns
    -------
    CompiledConstraints
    """
    cons = cons or Constraints()
    if not isinstance(cons, Constraints):
        raise TypeError(f"constraints must be a Constraints instance, got {type(cons).__name__}")
    _, n = R.shape
    if names is not None and len(names) != n:
        raise ValueError(f"names has {len(names)} entries for {n} instruments")
    exposure = _exposure_bounds(cons, n, names, bounds)
    linear = _linear_blocks(cons, n, names)
    absolute = _absolute_blocks(cons, n, names)
    signed = _signed_blocks(cons)
    tracking = _tracking_blocks(cons, R, p, names)
    return CompiledConstraints(exposure, tuple(linear), tuple(absolute), tuple(signed),
                               tuple(tracking), cons.caps())


# ---------------------------------------------------------------------------------------------
# cvxpy backend
# ---------------------------------------------------------------------------------------------
Scale = float | cp.Expression


def _times(k: Scale, a: Any) -> Any:
    """``k * a`` with the cvxpy object on the left (numpy would broadcast it elementwise)."""
    return k * a if isinstance(k, cp.Expression) else float(k) * np.asarray(a, dtype=float)


def to_cvxpy(cc: CompiledConstraints, y: cp.Variable, k: Scale) -> list[cp.Constraint]:
    """cvxpy constraints of every block except the risk caps (see :mod:`tasks.optimization`).

    Parameters
    ----------
    cc : CompiledConstraints
    y : cvxpy Variable (N,) -- exposures, or ``kappa * exposures``.
    k : 1.0, or the Charnes-Cooper scale variable ``kappa``.
    """
    out: list[cp.Constraint] = []
    lo, hi = cc.bounds.lower, cc.bounds.upper
    fin = np.isfinite(lo)
    if fin.any():
        out.append(y[np.flatnonzero(fin)] >= _times(k, lo[fin]))
    fin = np.isfinite(hi)
    if fin.any():
        out.append(y[np.flatnonzero(fin)] <= _times(k, hi[fin]))
    for rows in cc.linear:
        eq = rows.lo == rows.hi
        if eq.any():
            out.append(rows.A[eq] @ y == _times(k, rows.lo[eq]))
        ge = ~eq & np.isfinite(rows.lo)
        if ge.any():
            out.append(rows.A[ge] @ y >= _times(k, rows.lo[ge]))
        le = ~eq & np.isfinite(rows.hi)
        if le.any():
            out.append(rows.A[le] @ y <= _times(k, rows.hi[le]))
    for b in cc.absolute:
        dev = y - _times(k, b.center) if np.any(b.center != 0) else y
        out.append(b.weights @ cp.abs(dev) <= _times(k, b.cap))
    for sgn in cc.signed:
        part = cp.neg(y) if sgn.side == "short" else cp.pos(y)
        out.append(cp.sum(part) <= _times(k, sgn.cap))
    n = y.shape[0]
    for te in cc.tracking:
        F = te.factor
        out.append(cp.norm(F[:, :n] @ y + _times(k, F[:, n]), 2) <= _times(k, te.cap))
    return out
