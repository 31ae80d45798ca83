"""Portfolio optimisation: the compiled ``PortfolioProblem`` (four objectives over ten risk
measures), constraints (bounds, linear, Greek, leverage, margin, turnover, tracking error, risk
caps), CVaR cutting planes, frontiers and the Riskfolio-style ``Portfolio``; limits on a held book
(``compile_limits``, ``evaluate_limits``) and the least-cost trade that restores them (``rebalance``).
"""

from tasks.optimization._constraints import (
    RISK_CAP_FIELDS,
    AbsSum,
    Bounds,
    CompiledConstraints,
    Constraints,
    Greek,
    GreekLimits,
    LinearRows,
    SignedSum,
    TrackingError,
    compile_constraints,
    to_cvxpy,
)
from tasks.optimization._cvar_cuts import (
    CutObjective,
    CutOutcome,
    CvarCutSolver,
)
from tasks.optimization._limits import (
    LIMIT_COLUMNS,
    CompiledLimits,
    LimitRow,
    Limits,
    RiskLimit,
    compile_limits,
    evaluate_limits,
)
from tasks.optimization._linear_expr import (
    LinearConstraint,
    Sense,
    constraint_rows,
    parse_constraint,
    resolve_names,
)
from tasks.optimization._portfolio import (
    Portfolio,
)
from tasks.optimization._problem import (
    AUTO_CUTS_MIN_SCENARIOS,
    STATUSES,
    SUPPORTED_MEASURES,
    CvarMethod,
    Objective,
    OptimizationResult,
    PortfolioProblem,
    efficient_frontier,
    frontier_limits,
    frontier_targets,
    optimize,
)
from tasks.optimization._rebalance import (
    TRADE_COLUMNS,
    RebalanceResult,
    find_conflicts,
    rebalance,
)
from tasks.optimization._risk_models import (
    ScenarioData,
    evaluate,
    risk_model,
)

__all__ = [
    "LinearConstraint",
    "Sense",
    "constraint_rows",
    "parse_constraint",
    "resolve_names",
    "AUTO_CUTS_MIN_SCENARIOS",
    "CvarMethod",
    "Objective",
    "OptimizationResult",
    "PortfolioProblem",
    "STATUSES",
    "SUPPORTED_MEASURES",
    "efficient_frontier",
    "frontier_limits",
    "frontier_targets",
    "optimize",
    "AbsSum",
    "Bounds",
    "CompiledConstraints",
    "Constraints",
    "Greek",
    "GreekLimits",
    "LinearRows",
    "RISK_CAP_FIELDS",
    "SignedSum",
    "TrackingError",
    "compile_constraints",
    "to_cvxpy",
    "ScenarioData",
    "evaluate",
    "risk_model",
    "CutObjective",
    "CutOutcome",
    "CvarCutSolver",
    "Portfolio",
    "LIMIT_COLUMNS",
    "CompiledLimits",
    "LimitRow",
    "Limits",
    "RiskLimit",
    "compile_limits",
    "evaluate_limits",
    "TRADE_COLUMNS",
    "RebalanceResult",
    "find_conflicts",
    "rebalance",
]
