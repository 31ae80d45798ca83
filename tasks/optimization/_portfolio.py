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

Input models (``optimization(model=...)``, also ``frontier_limits`` / ``efficient_frontier``),
with Riskfolio-Lib's meaning of ``hist``:

========= ======================= ======================== ===================================
model     expected return         MV covariance            scenario measures (all but MV) see
========= ======================= ======================== ===================================
Classic   ``R^T p``               of ``R`` under ``p``     ``R`` under ``p`` (``hist`` ignored)
BL        ``mu_bl``               hist=True: of ``R``;     ``R`` under ``p``
                                  hist=False: ``cov_bl``
BL, "EP"  ``R^T q = mu_bl``       of ``R`` under ``q``     ``R`` under ``q`` (beyond Riskfolio)
FM        ``mu_fm``               hist=True: of ``R``;     hist=True: ``R``; hist=False:
                                  hist=False: ``cov_fm``   ``returns_fm``, under ``p``
========= ======================= ======================== ===================================

``hist="EP"`` (not in Riskfolio, whose BL moves only the mean and the MV covariance): the
Black-Litterman posterior as Entropy-Pooling probabilities ``q`` on the scenarios
(:meth:`Portfolio.blacklitterman_probabilities`, mean views on every instrument, optionally the
covariance too), so that *every* measure -- CVaR, drawdowns aside, the lower partial moments,
worst realisation -- and the expected return see the Black-Litterman world.

:meth:`Portfolio.blacklitterman_stats` estimates ``mu`` and ``cov`` from the scenarios under
``p`` (divisor 1; Riskfolio: ``T - 1``) and uses Riskfolio's ``tau = 1 / T`` (T = scenarios) and
``delta = (mu^T w - rf) / (w^T cov w)`` by default; only ``method_mu = method_cov = "hist"``.
:meth:`Portfolio.factors_stats` reads the factor history from :attr:`Portfolio.factors` (rows
aligned with ``returns``) and uses Riskfolio's default forward stepwise selection on p-values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tasks.measures._measures import RiskMeasure
from tasks.optimization._constraints import RISK_CAP_FIELDS, Constraints, GreekLimits
from tasks.optimization._problem import CvarMethod, Objective, OptimizationResult, PortfolioProblem
from tasks.scenarios._factors import FactorLoadings, factor_loadings, factor_scenarios, factor_stats
from tasks.views._black_litterman import BlackLitterman, black_litterman, black_litterman_probabilities
from tasks.views._entropy_pooling import EntropyPoolingResult

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
        self.factors: pd.DataFrame | np.ndarray | None = extra.pop("factors", None)
        if extra:
            raise TypeError(f"unknown Portfolio argument(s): {', '.join(sorted(extra))}")
        self.result: OptimizationResult | None = None
        self.frontier_table: pd.DataFrame | None = None
        # input models: set by blacklitterman_stats / blacklitterman_probabilities / factors_stats
        self.bl: BlackLitterman | None = None
        self.mu_bl: pd.Series | None = None
        self.cov_bl: pd.DataFrame | None = None
        self.p_bl: np.ndarray | None = None
        self.loadings: FactorLoadings | None = None
        self.mu_fm: pd.Series | None = None
        self.cov_fm: pd.DataFrame | None = None
        self.returns_fm: pd.DataFrame | None = None

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

    def problem(self, rm: str = "MV", rf: float = 0.0, model: str = "Classic",
                hist: bool | str = True) -> PortfolioProblem:
        """The compiled :class:`PortfolioProblem` for measure ``rm`` under input model ``model``."""
        self._check(model, False, hist)
        R, p, mu, cov = self._inputs(model, hist)
        return PortfolioProblem(
            R, p, v=self.v, rm=rm, alpha=self.alpha, demean=self.demean,
            solver=self.solver, rf=rf, paths=self.paths, path_p=self.path_p,
            constraints=self.constraints(), names=self.names, cvar_method=self.cvar_method,
            mu=mu, cov=cov)

    @staticmethod
    def _check(model: str, kelly: bool | str, hist: bool | str) -> None:
        if model not in ("Classic", "BL", "FM"):
            raise ValueError(f"model must be 'Classic', 'BL' or 'FM', got {model!r}")
        if kelly not in (False, None):
            raise ValueError("kelly (logarithmic returns) is not supported")
        if model == "Classic" and hist is not True:
            raise ValueError("model='Classic' uses the scenarios: hist must be True")
        if hist not in (True, False, "EP") or (hist == "EP" and model != "BL"):
            raise ValueError(f"hist must be True, False or (model='BL' only) 'EP', got {hist!r}")

    def _inputs(self, model: str, hist: bool | str
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """(R, p, mu override, cov override) of an input model (see the module docstring)."""
        if model == "Classic":
            return self.returns, self.probabilities, None, None
        if model == "BL":
            if self.mu_bl is None or self.cov_bl is None:
                raise ValueError("model='BL' needs blacklitterman_stats(P, Q, ...) first")
            if hist == "EP":
                if self.p_bl is None:
                    self.blacklitterman_probabilities()
                return self.returns, self.p_bl, None, None
            mu, cov = self._by_name(self.mu_bl, "mu_bl"), self._square(self.cov_bl)
            return self.returns, self.probabilities, mu, None if hist else cov
        if self.mu_fm is None or self.cov_fm is None or self.returns_fm is None:
            raise ValueError("model='FM' needs factors_stats(...) first")
        mu, cov = self._by_name(self.mu_fm, "mu_fm"), self._square(self.cov_fm)
        if hist:
            return self.returns, self.probabilities, mu, None
        fm = self.returns_fm
        scen = fm.reindex(columns=self.names) if isinstance(fm, pd.DataFrame) else fm
        return np.asarray(scen, dtype=float), self.probabilities, mu, cov

    def _square(self, m: pd.DataFrame | np.ndarray) -> np.ndarray:
        """(N, N) matrix in instrument order (a DataFrame is matched by its labels)."""
        if isinstance(m, pd.DataFrame):
            m = m.rename(index=str, columns=str).reindex(index=self.names, columns=self.names)
        return np.asarray(m, dtype=float)

    # -- input models --------------------------------------------------------------------------
    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu (N,), cov (N, N)) of the scenarios under ``p`` (divisor 1)."""
        s = self.returns.shape[0]
        p = np.full(s, 1.0 / s) if self.probabilities is None else np.asarray(self.probabilities, float)
        p = p / p.sum()
        mu = p @ self.returns
        d = self.returns - mu
        return mu, (d * p[:, None]).T @ d

    def _by_name(self, x: Any, what: str) -> np.ndarray:
        """(N,) vector from an array, a Series / one-column DataFrame or a {name: value} mapping."""
        if isinstance(x, pd.DataFrame):
            x = x.iloc[:, 0] if x.shape[1] == 1 else x.iloc[0]
        if isinstance(x, Mapping | pd.Series):
            named = {str(k): float(val) for k, val in dict(x).items()}
            if set(named) - set(self.names):
                raise ValueError(f"{what}: unknown instrument(s) {sorted(set(named) - set(self.names))}")
            return np.array([named.get(n, 0.0) for n in self.names])
        v = np.asarray(x, dtype=float).ravel()
        if v.shape != (len(self.names),):
            raise ValueError(f"{what} must have {len(self.names)} entries, got {v.size}")
        return v

    def blacklitterman_stats(self, P: pd.DataFrame | np.ndarray, Q: pd.DataFrame | np.ndarray,
                             rf: float = 0.0, w: Any = None, delta: float | None = None,
                             eq: bool = True, method_mu: str = "hist", method_cov: str = "hist", *,
                             tau: float | None = None, omega: np.ndarray | None = None,
                             confidences: np.ndarray | None = None) -> BlackLitterman:
        """Black-Litterman inputs of ``model='BL'``: sets :attr:`mu_bl` (N,), :attr:`cov_bl` (N, N).

        Riskfolio-Lib's arguments: ``P`` (K, N) views (a DataFrame's columns are matched to the
        instruments, missing ones are 0), ``Q`` (K,) or (K, 1) targets (excess of ``rf``, as
        Riskfolio), ``w`` market weights (default :attr:`benchweights`) and ``delta`` (default
        ``(mu^T w - rf) / (w^T cov w)``) of the equilibrium prior ``eq=True``; ``eq=False`` uses the
        scenario means. Beyond Riskfolio: ``tau`` (default ``1 / T``), ``omega`` (K, K) or Idzorek
        ``confidences`` (K,) in [0, 1] (see :func:`tasks.views.black_litterman`).
        """
        if method_mu != "hist" or method_cov != "hist":
            raise ValueError("only method_mu = method_cov = 'hist' (scenario moments under p) is supported")
        if isinstance(P, pd.DataFrame):
            unknown = set(map(str, P.columns)) - set(self.names)
            if unknown:
                raise ValueError(f"P: unknown instrument(s) {sorted(unknown)}")
            P = P.rename(columns=str).reindex(columns=self.names, fill_value=0.0).to_numpy(dtype=float)
        mu, cov = self._moments()
        tau = 1.0 / self.returns.shape[0] if tau is None else float(tau)
        kw: dict[str, Any] = {"tau": tau, "omega": omega, "confidences": confidences, "rf": float(rf)}
        if eq:
            if w is None:
                w = self.benchweights
            if w is None:
                raise ValueError("eq=True (equilibrium prior) needs market weights w (or benchweights)")
            wv = self._by_name(w, "w")
            if delta is None:
                delta = float((mu @ wv - rf) / (wv @ cov @ wv))
            res = black_litterman(cov, P, np.asarray(Q, dtype=float).ravel(), weights=wv, delta=delta, **kw)
        else:
            res = black_litterman(cov, P, np.asarray(Q, dtype=float).ravel(), prior_mu=mu, **kw)
        self.bl, self.p_bl = res, None
        self.mu_bl = pd.Series(res.mu, index=self.names)
        self.cov_bl = pd.DataFrame(res.cov, index=self.names, columns=self.names)
        return res

    def blacklitterman_probabilities(self, match_cov: bool = False, **ep_options: Any) -> EntropyPoolingResult:
        """Entropy-Pooling probabilities :attr:`p_bl` (S,) with ``E_q[R] = mu_bl`` (and, with
        ``match_cov``, ``Cov_q[R] = cov_bl``), used by ``optimization(model='BL', hist='EP')``
        (which computes the mean-only ones if none are set; set ``mu_bl`` / ``cov_bl`` by hand
        and call this again to refresh them)."""
        if self.mu_bl is None or self.cov_bl is None:
            raise ValueError("blacklitterman_stats(P, Q, ...) first")
        cov = self._square(self.cov_bl) if match_cov else None
        res = black_litterman_probabilities(self.returns, self.probabilities,
                                            self._by_name(self.mu_bl, "mu_bl"), cov, names=self.names,
                                            **ep_options)
        self.p_bl = res.posterior
        return res

    def factors_stats(self, method_mu: str = "hist", method_cov: str = "hist", d: float = 0.94,
                      B: pd.DataFrame | np.ndarray | None = None, dict_cov: Mapping[str, Any] | None = None,
                      dict_risk: Mapping[str, Any] | None = None) -> FactorLoadings:
        """Factor-model inputs of ``model='FM'``: sets :attr:`mu_fm`, :attr:`cov_fm`, :attr:`returns_fm`.

        The factor history is :attr:`factors` (T, K), its rows aligned with ``returns`` and
        weighted by ``p``. ``dict_risk`` takes Riskfolio's ``stepwise`` ("Forward" default,
        "Backward", or None for plain OLS on every factor), ``threshold`` (0.05) and ``const``
        (True), and ours: ``residuals`` (False: ``returns_fm = alpha + F B^T`` as Riskfolio; True:
        plus residual rows resampled as :func:`tasks.scenarios.factor_scenarios`) and ``seed``.
        ``B`` (N, K) fixes the loadings (then ``alpha`` is the mean of ``R - F B^T``).
        """
        del d, dict_cov  # Riskfolio's EWMA decay / covariance estimator options: 'hist' only here
        if method_mu != "hist" or method_cov != "hist":
            raise ValueError("only method_mu = method_cov = 'hist' is supported")
        if self.factors is None:
            raise ValueError("set factors (T, K) factor returns, rows aligned with returns, first")
        opts = dict(dict_risk or {})
        unknown = set(opts) - {"stepwise", "threshold", "const", "residuals", "seed"}
        if unknown:
            raise ValueError(f"dict_risk: unknown key(s) {sorted(unknown)}")
        step = opts.get("stepwise", "Forward")
        methods = {"Forward": "forward", "Backward": "backward", None: "ols"}
        if step not in methods:
            raise ValueError(f"dict_risk['stepwise'] must be 'Forward', 'Backward' or None, got {step!r}")
        F = self.factors
        fnames = [str(c) for c in F.columns] if isinstance(F, pd.DataFrame) else None
        Fm = np.asarray(F, dtype=float)
        if Fm.ndim != 2 or Fm.shape[0] != self.returns.shape[0]:
            raise ValueError(f"factors must have shape ({self.returns.shape[0]}, K), got {Fm.shape}")
        if B is None:
            fl = factor_loadings(self.returns, Fm, assets=self.names, factors=fnames,
                                 method=methods[step], threshold=float(opts.get("threshold", 0.05)),
                                 intercept=bool(opts.get("const", True)))
        else:
            fl = self._fixed_loadings(B, Fm, fnames)
        mu, cov = factor_stats(fl, Fm, p=self.probabilities)
        res = opts.get("residuals", False)
        scen = factor_scenarios(Fm, fl, seed=int(opts.get("seed", 0)), residuals=res)
        self.loadings = fl
        self.mu_fm = pd.Series(mu, index=self.names)
        self.cov_fm = pd.DataFrame(cov, index=self.names, columns=self.names)
        self.returns_fm = pd.DataFrame(scen, columns=self.names)
        return fl

    def _fixed_loadings(self, B: pd.DataFrame | np.ndarray, F: np.ndarray,
                        fnames: Sequence[str] | None) -> FactorLoadings:
        """A :class:`FactorLoadings` for given loadings ``B`` (N, K): ``alpha`` = mean residual."""
        k = F.shape[1]
        fnames = list(fnames) if fnames is not None else [f"factor{j}" for j in range(k)]
        if isinstance(B, pd.DataFrame):
            B = B.reindex(index=self.names, columns=fnames).to_numpy(dtype=float)
        Bm = np.asarray(B, dtype=float)
        if Bm.shape != (len(self.names), k) or not np.isfinite(Bm).all():
            raise ValueError(f"B must be a finite ({len(self.names)}, {k}) matrix of loadings")
        e = self.returns - F @ Bm.T
        alpha = e.mean(axis=0)
        return FactorLoadings(B=Bm, alpha=alpha, residuals=e - alpha,
                              selected=tuple(tuple(fnames) for _ in self.names), assets=tuple(self.names),
                              factors=tuple(fnames), pvalues=np.full(Bm.shape, np.nan))

    def _weights(self, res: OptimizationResult) -> pd.DataFrame:
        df = pd.DataFrame({"weights": res.exposures}, index=self.names)
        df.attrs.update(status=res.status, risk=res.risk, expected_return=res.expected_return,
                        message=res.message)
        return df

    # -- Riskfolio-style API -----------------------------------------------------------------
    def optimization(self, model: str = "Classic", rm: str = "MV", obj: str = "Sharpe",
                     kelly: bool | str = False, rf: float = 0.0, l: float = 2.0,
                     hist: bool | str = True) -> pd.DataFrame:
        """Optimal exposures as a one-column DataFrame ``weights`` (index = instruments).

        ``model`` Classic, BL or FM and ``hist`` True, False or (BL) "EP": see the module
        docstring. ``obj`` in MinRisk, MaxRet, Sharpe, Utility; ``rm`` any of the ten measure
        codes; ``rf`` the risk-free rate / FLPM-SLPM threshold; ``l`` the Utility risk aversion.
        The status, risk and expected return are in ``attrs`` and in :attr:`result`.
        """
        self._check(model, kelly, hist)
        RiskMeasure(rm)
        self.result = self.problem(rm, rf, model, hist).solve(Objective(obj), self.lowerret, l=l)
        return self._weights(self.result)

    def frontier_limits(self, model: str = "Classic", rm: str = "MV", kelly: bool | str = False,
                        rf: float = 0.0, hist: bool | str = True) -> pd.DataFrame:
        """Minimum-risk and maximum-return exposures: columns ``w_min`` and ``w_max``."""
        self._check(model, kelly, hist)
        lo, hi = self.problem(rm, rf, model, hist).frontier_limits()
        df = pd.DataFrame({"w_min": lo.exposures, "w_max": hi.exposures}, index=self.names)
        df.attrs.update(status=(lo.status, hi.status))
        return df

    def efficient_frontier(self, model: str = "Classic", rm: str = "MV", kelly: bool | str = False,
                           points: int = 20, rf: float = 0.0, hist: bool | str = True) -> pd.DataFrame:
        """Frontier exposures, one column per point (index = instruments), as Riskfolio-Lib.

        The long table (status, target, expected return, risk per point) is kept in
        :attr:`frontier_table`.
        """
        self._check(model, kelly, hist)
        table = self.problem(rm, rf, model, hist).efficient_frontier(points)
        self.frontier_table = table
        return table[self.names].T.rename(columns=lambda c: int(c))
