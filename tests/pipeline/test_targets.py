"""Headline targets: every constraint set gets them, and an unattainable one says why (the
attainable range of expected returns), checked against closed forms and an independent solver."""

import copy

import numpy as np
import pytest
from scipy.optimize import minimize

from pipeline import stages
from pipeline.config import parse_config, safe_load
from pipeline.resolve import build_plan
from tests.conftest import ROOT


def _plan_and_scenarios(targets, constraint_sets=None):
    """The laptop drivers with their ten cash instruments only, 1,000 scenarios, in-process."""
    d = copy.deepcopy(safe_load((ROOT / "configs" / "laptop.yaml").read_text()))
    d["scenarios"].update(count=1000, block_size=500, moment_matching=False)
    d["instruments"] = [i for i in d["instruments"] if i["kind"] == "cash"]
    d.pop("views")
    opt = d["optimization"]
    opt.update(risk_measures=["MV"], targets=list(targets), portfolios=[], bounds={"cash": [0.0, 1.0]})
    opt.pop("constraint_sets")
    if constraint_sets:
        opt["constraint_sets"] = constraint_sets
    plan = build_plan(parse_config(d))
    sim = plan.scenarios
    chunks = [stages.chunk_scenarios(sim, plan.book, list(g), None) for g in sim.block_groups]
    scen = stages.assemble_scenarios(plan.book, *chunks)
    return plan, scen, stages.prior_outcome(scen)


def test_unattainable_target_gives_the_attainable_range():
    plan, scen, prior = _plan_and_scenarios([0.50, 0.02])
    cset = plan.constraint_sets[0]
    mu = scen.p @ scen.R
    row = stages.target_portfolio("t-hi", cset, scen, prior, "MV", 0)
    assert row["status"] == "infeasible"
    msg = row["message"]
    assert "target expected return 50.00% is not attainable" in msg
    # the highest expected return with 0 <= e <= 1 and sum(e) = 1: everything in the best asset
    assert f"{mu.max():.2%} (maximum return)" in msg
    # the lower end: the minimum-variance portfolio, found independently with SLSQP
    C = np.cov(scen.R, rowvar=False, aweights=scen.p, bias=True)
    n = len(mu)
    res = minimize(lambda w: w @ C @ w, np.full(n, 1.0 / n), jac=lambda w: 2 * C @ w, method="SLSQP",
                   bounds=[(0.0, 1.0)] * n, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
                   options={"ftol": 1e-15, "maxiter": 500})
    assert res.success
    assert f"{mu @ res.x:.2%} (minimum risk) to" in msg
    ok = stages.target_portfolio("t-lo", cset, scen, prior, "MV", 1)
    assert ok["status"] == "optimal" and ok["expected_return"] >= 0.02 - 1e-7 and not ok["message"]


def test_target_of_constraints_that_admit_no_portfolio():
    plan, scen, prior = _plan_and_scenarios(
        [0.01], {"impossible": {"risk_measures": ["MV"], "linear": ["Gov_MBS + Corp_IG >= 3"]}})
    cset = plan.constraint_sets[1]
    assert cset.name == "impossible"
    row = stages.target_portfolio("t-imp", cset, scen, prior, "MV", 0)
    assert row["status"] == "infeasible"
    assert row["message"].startswith("no portfolio satisfies the constraints (infeasible")
    assert row["portfolio"] == "prior/MV@impossible/target0"


@pytest.mark.parametrize("sets", [None, {"capped": {"risk_measures": ["MV"], "linear": ["Gov_MBS <= 0.5"]}}])
def test_every_constraint_set_gets_the_targets(sets):
    from pipeline.graph import _idents, _Run

    plan, _, _ = _plan_and_scenarios([0.02, 0.03], sets)
    run = _Run(plan, None, None, None, False)  # _idents reads only the plan
    for cset in plan.constraint_sets:
        ids = _idents(run, cset)
        assert [(k, p) for k, p in ids if k == "target"] == [("target", 0), ("target", 1)], cset.name
