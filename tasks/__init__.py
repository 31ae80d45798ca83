"""stressfrontier's numerical core: pure functions and classes, no Dask, usable from a notebook.

Subpackages, one per domain (each re-exports its public names; modules with a leading
underscore are private)::

    tasks.instruments    pricing, Greeks, implied vols, curves, instruments, repricing
    tasks.scenarios      driver model, seeded chunk-invariant simulation, paths, histories
    tasks.views          view language, entropy pooling, Sequential EP
    tasks.optimization   PortfolioProblem, constraints, CVaR cutting planes, frontiers, Portfolio
    tasks.measures           the ten risk measures (and VaR) as evaluators, stress statistics
    tasks.vocabulary     the enums every layer shares (measures, objectives, Greeks, statuses)
    tasks.expressions    the one expression grammar (view values, linear views and constraints)

The names below are the documented Python API.
"""

from tasks.errors import ViewsInfeasible
from tasks.instruments import (
    Bond,
    Cash,
    EuropeanOption,
    Future,
    FxForward,
    VarianceSwap,
    ZeroCurve,
    black76_greeks,
    black76_price,
    black_scholes_greeks,
    black_scholes_price,
    greeks_matrix,
    implied_vol_black76,
    instrument_greeks,
    market_value,
    portfolio_greeks,
    scenario_pnl,
)
from tasks.measures import (
    average_drawdown,
    conditional_drawdown_at_risk,
    conditional_value_at_risk,
    expected_return,
    first_lower_partial_moment,
    max_drawdown,
    mean_absolute_deviation,
    risk,
    second_lower_partial_moment,
    semi_deviation,
    standard_deviation,
    stress_metrics,
    value_at_risk,
    worst_realization,
)
from tasks.optimization import (
    Constraints,
    GreekLimits,
    OptimizationResult,
    Portfolio,
    PortfolioProblem,
    efficient_frontier,
    frontier_limits,
    optimize,
)
from tasks.scenarios import Driver, DriverModel, simulate_drivers
from tasks.views import (
    View,
    effective_number_of_scenarios,
    entropy_pooling,
    relative_entropy,
    sequential_entropy_pooling,
)
from tasks.vocabulary import Greek, Objective, RiskMeasure, SEPMethod, Status, ViewStat

__all__ = [
    # views and entropy pooling
    "View",
    "ViewsInfeasible",
    "entropy_pooling",
    "sequential_entropy_pooling",
    "relative_entropy",
    "effective_number_of_scenarios",
    # optimisation
    "optimize",
    "efficient_frontier",
    "frontier_limits",
    "Portfolio",
    "PortfolioProblem",
    "OptimizationResult",
    "Constraints",
    "GreekLimits",
    # risk measures
    "risk",
    "expected_return",
    "standard_deviation",
    "mean_absolute_deviation",
    "semi_deviation",
    "first_lower_partial_moment",
    "second_lower_partial_moment",
    "value_at_risk",
    "conditional_value_at_risk",
    "worst_realization",
    "max_drawdown",
    "average_drawdown",
    "conditional_drawdown_at_risk",
    "stress_metrics",
    # instruments, pricing and Greeks
    "Cash",
    "Future",
    "EuropeanOption",
    "VarianceSwap",
    "Bond",
    "FxForward",
    "ZeroCurve",
    "market_value",
    "scenario_pnl",
    "black76_price",
    "black_scholes_price",
    "black76_greeks",
    "black_scholes_greeks",
    "implied_vol_black76",
    "instrument_greeks",
    "greeks_matrix",
    "portfolio_greeks",
    # scenarios
    "Driver",
    "DriverModel",
    "simulate_drivers",
    # vocabulary
    "RiskMeasure",
    "Objective",
    "Greek",
    "Status",
    "ViewStat",
    "SEPMethod",
]
