"""A thin Riskfolio-Lib-style front end over :mod:`tasks.optimization`.

Attribute and method names mirror Riskfolio-Lib's ``Portfolio`` (``sht``, ``uppersht``,
``upperlng``, ``allowTO``, ``turnover``, ``allowTE``, ``TE``, ``kindbench``, ``benchweights``,
``benchindex``, ``ainequality``, ``binequality``, ``lowerret``, ``upperdev`` ... ``upperCDaR``,
``optimization(model, rm, obj, kelly, rf, l, hist)``, ``frontier_limits``,
``efficient_frontier``), so scripts read alike. Every call builds a :class:`Constraints` from the
attributes and solves with :class:`tasks.optimization.PortfolioProblem`; nothing is computed here.

Differences from Riskfolio-Lib, all deliberate:

* the budget is ``v^T e = 1`` with ``v`` the instruments' relative market values (derivatives);
* every measure uses the scenario probabilities ``p`` (drawdowns: ``paths`` with ``path_p``);
* ``uppersht`` / ``upperlng`` default to ``None`` (no limit) and, as in Riskfolio, apply only when
  ``sht`` is True;
* turnover is measured from ``holdings`` (falling back to ``benchweights`` as Riskfolio does);
* a failed solve returns weights of NaN with ``attrs["status"]`` set (never ``None``); the full
  :class:`OptimizationResult` is in :attr:`Portfolio.result`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tasks.measures._measures import RiskMeasure
from tasks.optimization._constraints import RISK_CAP_FIELDS, Constraints, GreekLimits
from tasks.optimization._problem import CvarMethod, Objective, OptimizationResult, PortfolioProblem

__all__ = ["Portfolio"]


class Portfolio:
    """Scenario portfolio with Riskfolio-Lib's parameter names.

    Parameters
    ----------
    returns : (S, N) DataFrame (columns = instrument names) or array of P&L per unit exposure.
    probabilities : (S,) scenario probabilities (None = uniform).
    v : (N,) relative market values of the budget ``v^T e = 1`` (None = ones).
    paths, path_p : (P, T, N) per-step P&L paths and (P,) path probabilities (drawdowns).
    names : instrument names when ``returns`` is an array.
    alpha : tail probability of CVaR / CDaR.
    sht, uppersht, upperlng, allowTO, turnover, allowTE, TE, kindbench, benchweights, benchindex,
    ainequality, binequality, lowerret, upperdev ... upperCDaR :
        as Riskfolio-Lib (see the module docstring for the differences).
    **extra : further :class:`Constraints` fields (``bounds``, ``groups``, ``group_bounds``,
        ``leverage``, ``margin_rates``, ``margin``, ``linear``, ``holdings``, ``greeks``) and
        ``demean``, ``solver``, ``cvar_method``.
    """

    def __init__(
        self,
        returns: pd.DataFrame | np.ndarray,
        probabilities: np.ndarray | None = None,
        *,
        v: np.ndarray | None = None,
        paths: np.ndarray | None = None,
        path_p: np.ndarray | None = None,
        names: Sequence[str] | None = None,
        alpha: float = 0.05,
        sht: bool = False,
        uppersht: float | None = None,
        upperlng: float | None = None,
        allowTO: bool = False,
        turnover: float = 0.05,
        allowTE: bool = False,
        TE: float = 0.05,
        kindbench: bool = True,
        benchweights: np.ndarray | Mapping[str, float] | None = None,
        benchindex: np.ndarray | None = None,
        ainequality: np.ndarray | None = None,
        binequality: np.ndarray | None = None,
        lowerret: float | None = None,
        **extra: Any,
    ) -> None:
        if isinstance(returns, pd.DataFrame):
            self.names = [str(c) for c in returns.columns] if names is None else list(names)
            self.returns = returns.to_numpy(dtype=float)
        else:
            self.returns = np.asarray(returns, dtype=float)
            n = self.returns.shape[1]
            self.names = list(names) if names is not None else [f"e{i}" for i in range(n)]
        self.probabilities = probabilities
        self.v, self.paths, self.path_p = v, paths, path_p
        self.alpha = alpha
        self.sht, self.uppersht, self.upperlng = sht, uppersht, upperlng
        self.allowTO, self.turnover = allowTO, turnover
        self.allowTE, self.TE = allowTE, TE
        self.kindbench, self.benchweights, self.benchindex = kindbench, benchweights, benchindex
        self.ainequality, self.binequality = ainequality, binequality
        self.lowerret = lowerret
        for name in RISK_CAP_FIELDS:
            setattr(self, name, extra.pop(name, None))
        self.bounds = extra.pop("bounds", None)
        self.groups: Mapping[str, Sequence[str]] = extra.pop("groups", {})
        self.group_bounds = extra.pop("group_bounds", {})
        self.leverage = extra.pop("leverage", None)
        self.margin_rates = extra.pop("margin_rates", None)
        self.margin = extra.pop("margin", None)
        self.linear: Sequence[str] = extra.pop("linear", ())
        self.holdings = extra.pop("holdings", None)
        self.greeks: GreekLimits | None = extra.pop("greeks", None)
        self.demean: bool = extra.pop("demean", False)
        self.solver: str | None = extra.pop("solver", None)
        self.cvar_method: CvarMethod = extra.pop("cvar_method", "auto")
        if extra:
            raise TypeError(f"unknown Portfolio argument(s): {', '.join(sorted(extra))}")
        self.result: OptimizationResult | None = None
        self.frontier_table: pd.DataFrame | None = None

    # -- translation -------------------------------------------------------------------------
    def constraints(self) -> Constraints:
        """The :class:`Constraints` described by the current attributes."""
        te_kw: dict[str, Any] = {}
        if self.allowTE:
            if self.kindbench:
                te_kw = {"benchmark": self.benchweights, "TE": self.TE}
            else:
                te_kw = {"benchmark_pnl": self.benchindex, "TE": self.TE}
        to_kw: dict[str, Any] = {}
        if self.allowTO:
            held = self.holdings if self.holdings is not None else self.benchweights
            to_kw = {"turnover": self.turnover, "holdings": held}
        caps = {name: getattr(self, name) for name in RISK_CAP_FIELDS}
        return Constraints(
            bounds=self.bounds, groups=self.groups, group_bounds=self.group_bounds, sht=self.sht,
            uppersht=self.uppersht if self.sht else None, upperlng=self.upperlng if self.sht else None,
            leverage=self.leverage, margin_rates=self.margin_rates, margin=self.margin,
            linear=self.linear, ainequality=self.ainequality, binequality=self.binequality,
            greeks=self.greeks, **te_kw, **to_kw, **caps)

    def problem(self, rm: str = "MV", rf: float = 0.0) -> PortfolioProblem:
        """The compiled :class:`PortfolioProblem` for measure ``rm``."""
        return PortfolioProblem(
            self.returns, self.probabilities, v=self.v, rm=rm, alpha=self.alpha, demean=self.demean,
            solver=self.solver, rf=rf, paths=self.paths, path_p=self.path_p,
            constraints=self.constraints(), names=self.names, cvar_method=self.cvar_method)

    @staticmethod
    def _check(model: str, kelly: bool | str, hist: bool) -> None:
        if model != "Classic":
            raise ValueError(f"only model='Classic' (scenario model) is supported, got {model!r}")
        if kelly not in (False, None):
            raise ValueError("kelly (logarithmic returns) is not supported")
        if hist is not True:
            raise ValueError("only hist=True (scenario risk measures) is supported")

    def _weights(self, res: OptimizationResult) -> pd.DataFrame:
        df = pd.DataFrame({"weights": res.exposures}, index=self.names)
        df.attrs.update(status=res.status, risk=res.risk, expected_return=res.expected_return,
                        message=res.message)
        return df

    # -- Riskfolio-style API -----------------------------------------------------------------
    def optimization(self, model: str = "Classic", rm: str = "MV", obj: str = "Sharpe",
                     kelly: bool | str = False, rf: float = 0.0, l: float = 2.0,
                     hist: bool = True) -> pd.DataFrame:
        """Optimal exposures as a one-column DataFrame ``weights`` (index = instruments).

        ``obj`` in MinRisk, MaxRet, Sharpe, Utility; ``rm`` any of the ten measure codes; ``rf``
        the risk-free rate / FLPM-SLPM threshold; ``l`` the Utility risk aversion. The status,
        risk and expected return are in ``attrs`` and in :attr:`result`.
        """
        self._check(model, kelly, hist)
        RiskMeasure(rm)
        self.result = self.problem(rm, rf).solve(Objective(obj), self.lowerret, l=l)
        return self._weights(self.result)

    def frontier_limits(self, model: str = "Classic", rm: str = "MV", kelly: bool | str = False,
                        rf: float = 0.0, hist: bool = True) -> pd.DataFrame:
        """Minimum-risk and maximum-return exposures: columns ``w_min`` and ``w_max``."""
        self._check(model, kelly, hist)
        lo, hi = self.problem(rm, rf).frontier_limits()
        df = pd.DataFrame({"w_min": lo.exposures, "w_max": hi.exposures}, index=self.names)
        df.attrs.update(status=(lo.status, hi.status))
        return df

    def efficient_frontier(self, model: str = "Classic", rm: str = "MV", kelly: bool | str = False,
                           points: int = 20, rf: float = 0.0, hist: bool = True) -> pd.DataFrame:
        """Frontier exposures, one column per point (index = instruments), as Riskfolio-Lib.

        The long table (status, target, expected return, risk per point) is kept in
        :attr:`frontier_table`.
        """
        self._check(model, kelly, hist)
        table = self.problem(rm, rf).efficient_frontier(points)
        self.frontier_table = table
        return table[self.names].T.rename(columns=lambda c: int(c))
