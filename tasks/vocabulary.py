"""The product's vocabulary, defined once: risk measures, objectives, Greeks, statuses, view stats.

Every code is a :class:`enum.StrEnum` whose members equal their names' strings, so
``RiskMeasure.CVaR == "CVaR"``, ``f"{rm}"`` prints ``CVaR``, and a member hashes like its
string (it can key a ``dict`` of plain strings). The config schema (:mod:`pipeline.schema`) uses
these enums as field types; the numerical code compares against them. Nothing else in the
project spells these codes out.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, get_args

__all__ = [
    "BOOK_VARIABLE",
    "RiskMeasure",
    "DRAWDOWN_MEASURES",
    "CAP_FIELDS",
    "Objective",
    "PortfolioKind",
    "SINGLE_PORTFOLIOS",
    "Greek",
    "GREEKS",
    "Status",
    "OK_STATUSES",
    "ViewStatus",
    "ViewStat",
    "STATS",
    "ViewOp",
    "OPS",
    "SEPMethod",
    "METHODS",
]


class RiskMeasure(enum.StrEnum):
    """Risk-measure codes (values equal the names, as in Riskfolio-Lib's ``rm`` argument).

    ``RiskMeasure("CVaR")`` is ``RiskMeasure.CVaR``; an unknown code raises ``ValueError``.
    """

    MV = "MV"  #: standard deviation
    MAD = "MAD"  #: mean absolute deviation
    MSV = "MSV"  #: semi standard deviation
    FLPM = "FLPM"  #: first lower partial moment (Omega ratio)
    SLPM = "SLPM"  #: second lower partial moment (Sortino ratio)
    CVaR = "CVaR"  #: conditional value at risk
    WR = "WR"  #: worst realization (minimax)
    MDD = "MDD"  #: maximum drawdown (uncompounded)
    ADD = "ADD"  #: average drawdown (uncompounded)
    CDaR = "CDaR"  #: conditional drawdown at risk (uncompounded)


#: Measures evaluated on paths (P, T[, M]) with path probabilities, not on scenario P&L.
DRAWDOWN_MEASURES: Final[frozenset[RiskMeasure]] = frozenset(
    {RiskMeasure.MDD, RiskMeasure.ADD, RiskMeasure.CDaR}
)

#: Riskfolio-Lib's names of the risk caps (``Constraints`` fields), by the measure they cap.
CAP_FIELDS: Final[dict[RiskMeasure, str]] = {
    RiskMeasure.MV: "upperdev",
    RiskMeasure.MAD: "uppermad",
    RiskMeasure.MSV: "uppersdev",
    RiskMeasure.FLPM: "upperflpm",
    RiskMeasure.SLPM: "upperslpm",
    RiskMeasure.CVaR: "upperCVaR",
    RiskMeasure.WR: "upperwr",
    RiskMeasure.MDD: "uppermdd",
    RiskMeasure.ADD: "upperadd",
    RiskMeasure.CDaR: "upperCDaR",
}


class Objective(enum.StrEnum):
    """Optimisation objective codes (as Riskfolio-Lib)."""

    MinRisk = "MinRisk"
    MaxRet = "MaxRet"
    Sharpe = "Sharpe"
    Utility = "Utility"


#: Objectives that give one portfolio per (view set, measure, constraint set), not a frontier.
SINGLE_PORTFOLIOS: Final[tuple[Objective, ...]] = (Objective.Sharpe, Objective.Utility, Objective.MaxRet)


class PortfolioKind(enum.StrEnum):
    """The ``kind`` column of ``frontier.parquet``: a frontier point, a headline target, or a
    single-objective portfolio; ``book`` (the user's held book) and ``rebalanced`` (the book after
    the least-cost trade that restores its limits) in the stress, Greeks and shock tables.
    Members are in canonical table order (the book's come last so the frontier order stays)."""

    frontier = "frontier"
    target = "target"
    Sharpe = "Sharpe"
    Utility = "Utility"
    MaxRet = "MaxRet"
    book = "book"
    rebalanced = "rebalanced"


class Greek(enum.StrEnum):
    """Greek codes: sensitivities per unit of exposure to a driver (see :mod:`tasks.instruments`)."""

    delta = "delta"
    gamma = "gamma"
    vega = "vega"
    theta = "theta"
    rho = "rho"
    convexity = "convexity"


#: Greek codes in display order.
GREEKS: Final[tuple[str, ...]] = tuple(g.value for g in Greek)


class Status(enum.StrEnum):
    """Status of one portfolio (``frontier.parquet``'s ``status`` column)."""

    optimal = "optimal"
    optimal_inaccurate = "optimal_inaccurate"
    infeasible = "infeasible"
    unbounded = "unbounded"
    solver_error = "solver_error"
    no_positive_excess = "no_positive_excess"  #: Sharpe with no portfolio above rf
    view_infeasible = "view_infeasible"  #: its view set has no posterior
    error = "error"  #: the task raised; the message says what


#: Statuses of a portfolio that has exposures.
OK_STATUSES: Final[frozenset[Status]] = frozenset({Status.optimal, Status.optimal_inaccurate})


class ViewStatus(enum.StrEnum):
    """Status of one view set (``views.parquet``'s ``status`` column)."""

    ok = "ok"
    infeasible = "infeasible"


class ViewStat(enum.StrEnum):
    """Statistic of a view (case-sensitive: ``var`` is the variance, ``VaR`` the value at risk)."""

    mean = "mean"
    vol = "vol"
    var = "var"
    skew = "skew"
    kurt = "kurt"
    corr = "corr"
    prob = "prob"
    VaR = "VaR"
    CVaR = "CVaR"
    rank = "rank"
    linear = "linear"


#: View stats as strings, in definition order.
STATS: Final[tuple[str, ...]] = tuple(s.value for s in ViewStat)

#: Operator of a view (and of a linear constraint).
ViewOp = Literal["=", "<=", ">="]
OPS: Final[tuple[str, ...]] = get_args(ViewOp)


class SEPMethod(enum.StrEnum):
    """How a view set is solved: Sequential Entropy Pooling H1 / H2, or Meucci's original EP."""

    H1 = "H1"
    H2 = "H2"
    original = "original"


METHODS: Final[tuple[str, ...]] = tuple(m.value for m in SEPMethod)


#: The view variable of the user's book P&L (``on: book``): a reverse stress test is a view on it.
BOOK_VARIABLE: Final[str] = "book"
