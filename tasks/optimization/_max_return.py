"""The maximum expected return to full precision, and quiet solver calls.

``max mu^T e`` over the feasible set is an LP whenever every constraint block and every risk cap
is linear (tracking error and caps on MV, MSV or SLPM are second-order cones). An interior-point
solve of it stops at its gap tolerance *absolute* in the objective's units: with expected returns
of order 1e-3 that is 1e-6 of the maximum. So the LP goes to HiGHS's simplex (a vertex, to the
tolerances below), with the objective scaled to O(1) so that HiGHS's absolute dual tolerance is a
relative one; a conic MaxRet (a curved cap) goes to the conic solver, scaled alike and with tight
tolerances.

Among the maximisers the least risky one is wanted: a MinRisk solve with the return floor a
:data:`FLOOR_RTOL` *relative* slack below the maximum (not an absolute one, which would lose
1e-6 of a 1e-3 return), checked afterwards. If its return still falls short of the maximum by
more than :data:`ACCEPT_RTOL` (the floor is a solver constraint, met to the solver's feasibility
tolerance), it is lifted onto the maximum along the segment to the max-return vertex: a convex
combination of two feasible portfolios is feasible, and its risk is at most the combination of
theirs (every measure is convex).

Every HiGHS solve is kept off stdout (:mod:`tasks.optimization._highs`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tasks.optimization._constraints import CompiledConstraints
from tasks.optimization._highs import HIGHS_QUIET, absorb_banner, solve_options
from tasks.vocabulary import RiskMeasure

__all__ = [
    "LP_MEASURES",
    "FLOOR_RTOL",
    "ACCEPT_RTOL",
    "is_lp",
    "max_return_solver",
    "return_scale",
    "lift_weight",
]

#: Risk measures whose formulation (and cap) is linear.
LP_MEASURES = frozenset({RiskMeasure.MAD, RiskMeasure.FLPM, RiskMeasure.CVaR, RiskMeasure.WR,
                         RiskMeasure.MDD, RiskMeasure.ADD, RiskMeasure.CDaR})
#: HiGHS options of the max-return LP: simplex (a vertex) with tight feasibility tolerances.
_LP_OPTIONS: dict[str, Any] = {"solver": "simplex", "primal_feasibility_tolerance": 1e-10,
                               "dual_feasibility_tolerance": 1e-10, **HIGHS_QUIET}
#: Clarabel settings of a conic max-return solve (defaults 1e-8).
_CONIC_OPTIONS: dict[str, Any] = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10,
                                  "max_iter": 400}
#: The least-risk tie-break's return floor sits this fraction of the return scale below the maximum.
FLOOR_RTOL = 1e-12
#: ... and its result must reach the maximum to this fraction of the return scale (else lifted).
ACCEPT_RTOL = 1e-10


def is_lp(cc: CompiledConstraints) -> bool:
    """True when ``max mu^T e`` under ``cc`` is an LP (no tracking error, caps on linear measures)."""
    return not cc.tracking and all(RiskMeasure(m) in LP_MEASURES for m in cc.caps)


def max_return_solver(cc: CompiledConstraints, solver: str) -> tuple[str, dict[str, Any]]:
    """(cvxpy solver name, solve keyword arguments) of the max-return problem.

    Parameters
    ----------
    cc : the problem's compiled constraints.
    solver : the problem's solver (used for a conic max-return problem).
    """
    if is_lp(cc):
        absorb_banner()
        return "HIGHS", {"highs_options": dict(_LP_OPTIONS)}
    if solver == "CLARABEL":
        return solver, dict(_CONIC_OPTIONS)
    return solver, solve_options(solver)


def return_scale(max_return: float, mu: np.ndarray) -> float:
    """Scale (P&L per unit budget) of the tie-break tolerances: ``|max return|``, at least
    1e-6 of the largest ``|mu_i|`` (so that a maximum of 0 still allows rounding)."""
    mu_max = float(np.max(np.abs(mu))) if mu.size else 0.0
    return max(abs(float(max_return)), 1e-6 * mu_max)


def lift_weight(tight_return: float, vertex_return: float, goal: float) -> float:
    """Weight ``theta`` in [0, 1] of the max-return vertex in ``(1 - theta) e_tight + theta
    e_vertex`` so that its expected return (linear in theta) reaches ``goal``."""
    gap = vertex_return - tight_return
    if not gap > 0.0:
        return 1.0
    return min(1.0, max(0.0, (goal - tight_return) / gap)) if math.isfinite(gap) else 1.0
