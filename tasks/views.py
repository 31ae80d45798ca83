"""Stress views on scenario variables, turned into Entropy Pooling constraint rows.

A view says ``stat(on) op value`` under the posterior, e.g. ``vol(DM_Equity) = 0.20``. The
variables are columns of a scenario matrix X (S, n) — driver returns or instrument P&L.

Moments (probability weighted, divisor 1): mean ``E[x]``, ``var = E[(x - E x)^2]``, ``vol =
sqrt(var)``, ``skew = E[(x - E x)^3] / vol^3``, ``kurt = E[(x - E x)^4] / vol^4`` (not excess:
a normal has 3).

:func:`original_rows` implements Meucci's one-shot ("original") method: a non-linear view is
linearised around a reference mean and vol — the equality target of a mean/vol view on the same
variable if there is one, else the prior value — and moments that a non-linear view needs but no
view targets are pinned at their prior values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

__all__ = ["View", "ViewRows", "Stat", "Op", "original_rows", "attained", "target_value", "moment"]

Stat = Literal["mean", "vol", "var", "skew", "kurt"]
Op = Literal["=", "<=", ">="]
STATS: tuple[str, ...] = ("mean", "vol", "var", "skew", "kurt")
OPS: tuple[str, ...] = ("=", "<=", ">=")


@dataclass(frozen=True)
class View:
    """One view ``stat(on) op value``; ``value`` is a number or ``"prior"`` (keep the prior value)."""

    stat: Stat
    on: str
    op: Op
    value: float | str

    @property
    def label(self) -> str:
        return f"{self.stat}({self.on}) {self.op} {self.value}"


@dataclass
class ViewRows:
    """Linear EP constraints: ``A q = b`` and ``G q <= h``, with a name per row."""

    A: np.ndarray
    b: np.ndarray
    G: np.ndarray
    h: np.ndarray
    eq_names: list[str] = field(default_factory=list)
    in_names: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return self.eq_names + self.in_names


def moment(x: np.ndarray, p: np.ndarray, stat: str) -> float:
    """Probability-weighted statistic of a scenario vector x (S,) under p (S,)."""
    mu = float(p @ x)
    if stat == "mean":
        return mu
    d = x - mu
    var = float(p @ (d * d))
    if stat == "var":
        return var
    if stat == "vol":
        return float(np.sqrt(var))
    if stat == "skew":
        return float(p @ d**3) / var**1.5
    if stat == "kurt":
        return float(p @ d**4) / var**2
    raise ValueError(f"unknown stat {stat!r}; expected one of {STATS}")


def target_value(x: np.ndarray, p: np.ndarray, view: View) -> float:
    """The numeric target of a view (``"prior"`` resolved against the prior p)."""
    if isinstance(view.value, str):
        if view.value.strip() != "prior":
            raise ValueError(f"view {view.label}: value must be a number or 'prior'")
        return moment(x, p, view.stat)
    return float(view.value)


def attained(x: np.ndarray, q: np.ndarray, view: View) -> float:
    """The value the view's statistic takes under the posterior q."""
    return moment(x, q, view.stat)


def original_rows(
    X: np.ndarray, columns: Sequence[str], p: np.ndarray, views: Sequence[View]
) -> ViewRows:
    """EP rows of a view set with Meucci's original one-shot method.

    Parameters
    ----------
    X : (S, n) scenario values of the variables.
    columns : (n,) variable names (``View.on`` refers to them).
    p : (S,) prior probabilities.
    views : the views.

    Returns
    -------
    ViewRows with A (K_eq, S), b (K_eq,), G (K_in, S), h (K_in,).
    """
    col = {c: i for i, c in enumerate(columns)}
    for v in views:
        if v.on not in col:
            raise KeyError(f"view {v.label}: unknown variable {v.on!r}")
        if v.stat not in STATS or v.op not in OPS:
            raise ValueError(f"view {v.label}: unsupported stat or operator")
    eq: list[tuple[np.ndarray, float, str]] = []
    ineq: list[tuple[np.ndarray, float, str]] = []

    def add(row: np.ndarray, target: float, op: str, name: str) -> None:
        if op == "=":
            eq.append((row, target, name))
        elif op == "<=":
            ineq.append((row, target, name))
        else:
            ineq.append((-row, -target, name))

    by_var: dict[str, list[View]] = {}
    for v in views:
        by_var.setdefault(v.on, []).append(v)

    for var, vs in by_var.items():
        x = X[:, col[var]]
        prior_mean, prior_vol = moment(x, p, "mean"), moment(x, p, "vol")
        stats = {v.stat for v in vs}
        ref_mean = next((target_value(x, p, v) for v in vs if v.stat == "mean" and v.op == "="), prior_mean)
        ref_vol = prior_vol
        for v in vs:
            if v.op == "=" and v.stat == "vol":
                ref_vol = target_value(x, p, v)
            elif v.op == "=" and v.stat == "var":
                ref_vol = float(np.sqrt(target_value(x, p, v)))
        nonlinear = stats - {"mean"}
        if nonlinear and "mean" not in stats:
            add(x, prior_mean, "=", f"mean({var}) pinned at prior")
        if stats & {"skew", "kurt"} and not stats & {"vol", "var"}:
            add((x - ref_mean) ** 2, prior_vol**2, "=", f"var({var}) pinned at prior")
        for v in vs:
            t = target_value(x, p, v)
            if v.stat == "mean":
                add(x, t, v.op, v.label)
            elif v.stat == "vol":
                add((x - ref_mean) ** 2, t * t, v.op, v.label)
            elif v.stat == "var":
                add((x - ref_mean) ** 2, t, v.op, v.label)
            elif v.stat == "skew":
                add(((x - ref_mean) / ref_vol) ** 3, t, v.op, v.label)
            elif v.stat == "kurt":
                add(((x - ref_mean) / ref_vol) ** 4, t, v.op, v.label)

    s = X.shape[0]

    def stack(rows: list[tuple[np.ndarray, float, str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        if not rows:
            return np.empty((0, s)), np.empty(0), []
        return (np.vstack([r[0] for r in rows]), np.array([r[1] for r in rows]), [r[2] for r in rows])

    A, b, en = stack(eq)
    G, h, inn = stack(ineq)
    return ViewRows(A, b, G, h, en, inn)
