"""Risk measures: probability-weighted evaluators of the ten measures (and VaR), and stress
statistics of many portfolios under one probability vector.
"""

from tasks.measures._measures import (
    DRAWDOWN_MEASURES,
    RiskMeasure,
    average_drawdown,
    conditional_drawdown_at_risk,
    conditional_value_at_risk,
    drawdown_paths,
    expected_return,
    first_lower_partial_moment,
    max_drawdown,
    mean_absolute_deviation,
    risk,
    second_lower_partial_moment,
    semi_deviation,
    standard_deviation,
    value_at_risk,
    worst_realization,
)
from tasks.measures._stress import (
    METRICS,
    stress_metrics,
)

__all__ = [
    "DRAWDOWN_MEASURES",
    "RiskMeasure",
    "average_drawdown",
    "conditional_drawdown_at_risk",
    "conditional_value_at_risk",
    "drawdown_paths",
    "expected_return",
    "first_lower_partial_moment",
    "max_drawdown",
    "mean_absolute_deviation",
    "risk",
    "second_lower_partial_moment",
    "semi_deviation",
    "standard_deviation",
    "value_at_risk",
    "worst_realization",
    "METRICS",
    "stress_metrics",
]
