"""Black-Litterman view sets in the pipeline: config errors with key paths, the worker stage
against an independent numpy Black-Litterman (textbook inverse form, Idzorek's Omega found by
root finding), and an end-to-end run of ``configs/black_litterman.yaml`` on a LocalCluster."""

import copy

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

import pipeline
from pipeline.config import ConfigError, parse_config, safe_load
from pipeline.plan import BLACK_LITTERMAN, BlackLittermanPlan, ViewSetPlan
from pipeline.resolve import build_plan
from pipeline.stages import ScenarioSet, solve_views
from pipeline.tables import viewed_variables
from tasks.views import View
from tests.conftest import ROOT

CONFIG = ROOT / "configs" / "black_litterman.yaml"


@pytest.fixture(scope="module")
def bl_dict() -> dict:
    return safe_load(CONFIG.read_text())


# ---- an independent Black-Litterman ---------------------------------------------------------------

def _moments(XU: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = XU.T @ p
    D = XU - m
    return m, np.einsum("s,si,sj->ij", p, D, D)


def _idzorek_omega(tS: np.ndarray, pk: np.ndarray, qk: float, pi: np.ndarray, c: float) -> float:
    """omega_k such that view k alone moves the view portfolio's mean by c x its 100 % tilt
    (root finding, not the closed form)."""
    def tilt(omega: float) -> float:
        mu = pi + tS @ pk * (qk - pk @ pi) / (pk @ tS @ pk + omega)
        return pk @ (mu - pi)

    if c == 1.0:
        return 0.0
    full = tilt(0.0)
    return brentq(lambda w: tilt(w) - c * full, 0.0, 1e6, xtol=1e-16, rtol=1e-15, maxiter=500)


def independent_bl(XU, p, P, Q, tau, confidences=None, weights=None, delta=None):
    """Textbook Black-Litterman: mu = [(tau S)^-1 + P' W^-1 P]^-1 [(tau S)^-1 Pi + P' W^-1 Q],
    cov = S + [(tau S)^-1 + P' W^-1 P]^-1, on the scenario moments under p."""
    m, S = _moments(XU, p)
    pi = delta * S @ weights if weights is not None else m
    tS = tau * S
    if confidences is None:
        omega = np.diag(P @ tS @ P.T)
    else:
        omega = np.array([_idzorek_omega(tS, P[k], Q[k], pi, c) for k, c in enumerate(confidences)])
    assert (omega > 0).all()  # the inverse form needs an invertible Omega
    A = np.linalg.inv(tS) + P.T @ np.diag(1.0 / omega) @ P
    mu = np.linalg.solve(A, np.linalg.inv(tS) @ pi + P.T @ (Q / omega))
    return mu, S + np.linalg.inv(A)


# ---- the worker stage on a hand-made scenario set -------------------------------------------------

def _scenario_set(S: int = 4000, seed: int = 3) -> ScenarioSet:
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(np.array([[1.0, 0.6, 0.3, -0.2], [0.6, 1.0, 0.4, -0.1],
                                     [0.3, 0.4, 1.0, 0.0], [-0.2, -0.1, 0.0, 1.0]]))
    X = 0.05 + rng.standard_normal((S, 4)) @ L.T * np.array([0.15, 0.2, 0.25, 0.05])
    p = rng.uniform(0.5, 1.5, S)
    names = ["A", "B", "C", "D"]
    return ScenarioSet(X.copy(), X, names, names, [], p / p.sum(), np.ones(4))


def _bl_set(P, Q, *, confidences=None, equilibrium=True, match_cov=False, universe=("A", "B", "C", "D"),
            weights=(0.4, 0.3, 0.1, 0.2), delta=2.5, tau=0.05) -> ViewSetPlan:
    P, Q = np.atleast_2d(np.asarray(P, dtype=float)), np.asarray(Q, dtype=float)
    bl = BlackLittermanPlan(tuple(universe), P, Q, None if confidences is None else np.asarray(confidences),
                            tau, equilibrium, delta if equilibrium else None,
                            np.asarray(weights, dtype=float) if equilibrium else None, match_cov)
    views = tuple(View("linear", {n: w for n, w in zip(universe, row) if w}, "=", float(q)) for row, q in zip(P, Q))
    return ViewSetPlan(1, "bl", BLACK_LITTERMAN, views, None, bl)


P2 = [[0.0, -1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
Q2 = [0.02, 0.09]


@pytest.mark.parametrize("confidences", [None, [0.6, 0.3]])
@pytest.mark.parametrize("equilibrium", [True, False])
def test_posterior_means_match_an_independent_black_litterman(confidences, equilibrium):
    scen = _scenario_set()
    vs = _bl_set(P2, Q2, confidences=confidences, equilibrium=equilibrium)
    out = solve_views(scen, vs)
    assert out.ok and out.method == "black_litterman" and out.n_views == 2
    mu, _ = independent_bl(scen.X, scen.p, np.array(P2), np.array(Q2), 0.05, confidences,
                           weights=np.array([0.4, 0.3, 0.1, 0.2]) if equilibrium else None, delta=2.5)
    assert np.abs(scen.X.T @ out.q - mu).max() < 1e-8
    assert out.max_residual < 1e-8
    assert 0 < out.effective_scenarios < 1 and out.relative_entropy > 0
    assert out.q.sum() == pytest.approx(1.0, abs=1e-12) and (out.q >= 0).all()
    # without equilibrium the prior is the scenario means: the views alone move them
    m, _ = _moments(scen.X, scen.p)
    if not equilibrium:
        assert not np.allclose(mu, m, atol=1e-3)


def test_confidence_sets_the_tilt_in_idzoreks_sense():
    """A single view at confidence c moves the view portfolio's posterior mean by c of the way
    from the prior to Q (the 100 % posterior meets Q exactly)."""
    scen = _scenario_set()
    m, _ = _moments(scen.X, scen.p)
    got = {}
    for c in (1.0, 0.5, 0.25):
        out = solve_views(scen, _bl_set([[1.0, 0, 0, 0]], [0.12], confidences=[c], equilibrium=False))
        got[c] = scen.X[:, 0] @ out.q
    assert got[1.0] == pytest.approx(0.12, abs=1e-10)
    for c in (0.5, 0.25):
        assert got[c] - m[0] == pytest.approx(c * (0.12 - m[0]), abs=1e-10)


def test_match_cov_matches_the_posterior_covariance():
    scen = _scenario_set()
    out = solve_views(scen, _bl_set(P2, Q2, confidences=[0.5, 0.5], match_cov=True))
    assert out.ok
    mu, cov = independent_bl(scen.X, scen.p, np.array(P2), np.array(Q2), 0.05, [0.5, 0.5],
                             weights=np.array([0.4, 0.3, 0.1, 0.2]), delta=2.5)
    m_q, C_q = _moments(scen.X, out.q)
    assert np.abs(m_q - mu).max() < 1e-8 and np.abs(C_q - cov).max() < 1e-8
    assert [c["stat"] for c in out.checks].count("var") == 4


def test_check_rows_say_what_q_attains():
    scen = _scenario_set()
    out = solve_views(scen, _bl_set(P2, Q2, confidences=[0.6, 0.3]))
    mu, _ = independent_bl(scen.X, scen.p, np.array(P2), np.array(Q2), 0.05, [0.6, 0.3],
                           weights=np.array([0.4, 0.3, 0.1, 0.2]), delta=2.5)
    rows = pd.DataFrame(out.checks)
    assert list(rows["view_set"].unique()) == ["bl"]
    views, means = rows.iloc[:2], rows.iloc[2:]
    assert views["view"].tolist() == ["BL mean(-B + C) = 0.02 (confidence 0.6)", "BL mean(A) = 0.09 (confidence 0.3)"]
    assert np.allclose(views["target"], np.array(P2) @ mu, atol=1e-8)
    assert np.allclose(views["confidence"], [0.6, 0.3])
    m, _ = _moments(scen.X, scen.p)
    assert np.allclose(views["prior_value"], np.array(P2) @ m, atol=1e-14)
    assert means["on"].tolist() == ["A", "B", "C", "D"] and np.allclose(means["target"], mu, atol=1e-8)
    assert (rows["violation"] <= 1e-8).all() and rows["confidence"].iloc[2:].isna().all()
    assert np.allclose(rows["violation"], (rows["attained"] - rows["target"]).abs(), atol=0)


def test_views_beyond_the_scenarios_are_infeasible_and_the_run_goes_on():
    scen = _scenario_set()
    out = solve_views(scen, _bl_set([[1.0, 0, 0, 0]], [5.0], confidences=[1.0]))
    assert out.status == "infeasible" and out.q is None and out.message


# ---- resolution and config errors ------------------------------------------------------------------

def test_config_resolves_to_the_black_litterman_plan(bl_dict):
    d = copy.deepcopy(bl_dict)
    d["views"][0]["views"].append({"stat": "mean", "on": {"Treasury": 2, "US_Put_90": -1}, "op": "=",
                                   "value": 0.01, "confidence": 1.0})
    plan = build_plan(parse_config(d, base_dir=CONFIG.parent))
    vs = plan.view_sets[0]
    bl = vs.black_litterman
    assert vs.method == BLACK_LITTERMAN and bl is not None
    assert bl.universe == ("US_Equity", "EU_Equity", "EM_Equity", "Treasury", "Corp_IG", "US_Put_90")
    assert np.array_equal(bl.P, [[-1, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0], [0, 0, 0, 2, 0, -1]])
    assert np.array_equal(bl.Q, [0.03, 0.05, 0.01]) and np.array_equal(bl.confidences, [0.6, 0.4, 1.0])
    assert np.allclose(bl.weights, [0.35, 0.15, 0.10, 0.25, 0.15, 0.0]) and bl.delta == 2.5 and bl.tau == 0.05
    assert bl.equilibrium and not bl.match_cov
    assert viewed_variables(plan.view_sets)[:6] == list(bl.universe)
    # defaults: He-Litterman Omega without confidences, tau 0.05; scenario means without equilibrium
    d = copy.deepcopy(bl_dict)
    vs0 = d["views"][0]
    for k in ("weights", "delta", "tau"):
        vs0.pop(k)
    vs0["equilibrium"] = False
    for v in vs0["views"]:
        v.pop("confidence")
    bl = build_plan(parse_config(d, base_dir=CONFIG.parent)).view_sets[0].black_litterman
    assert bl.confidences is None and bl.weights is None and bl.delta is None and bl.tau == 0.05
    assert bl.universe == ("EM_Equity", "US_Equity", "Corp_IG")


def _bad(d: dict, mutate) -> ConfigError:
    d = copy.deepcopy(d)
    mutate(d)
    with pytest.raises(ConfigError) as info:
        build_plan(parse_config(d, base_dir=CONFIG.parent))
    return info.value


def _view(d: dict, j: int = 0) -> dict:
    return d["views"][0]["views"][j]


@pytest.mark.parametrize(("mutate", "path", "fragment"), [
    (lambda d: d["views"][1].update(tau=0.1), "views[1].tau", "method: black_litterman only"),
    (lambda d: d["views"][1].update(weights={"US_Equity": 1}), "views[1].weights", "black_litterman only"),
    (lambda d: d["views"][0].update(method="black-litterman"), "views[0].method", "black_litterman"),
    (lambda d: _view(d).update(op=">="), "views[0].views[0].op", "op: '='"),
    (lambda d: _view(d).update(stat="vol"), "views[0].views[0].stat", "stat: mean"),
    (lambda d: _view(d).update(value="prior"), "views[0].views[0].value", "is a number"),
    (lambda d: _view(d).update(on="Gold - US_Equity"), "views[0].views[0].on", "unknown driver or instrument 'Gold'"),
    (lambda d: _view(d).update(on=["US_Equity", "EU_Equity"]), "views[0].views[0].on", "not a list"),
    (lambda d: _view(d).update(on="US_Equity * EU_Equity"), "views[0].views[0].on", ""),
    (lambda d: _view(d).update(confidence=0.0), "views[0].views[0].confidence", "greater than 0"),
    (lambda d: _view(d).update(confidence=1.5), "views[0].views[0].confidence", "less than or equal to 1"),
    (lambda d: _view(d, 1).pop("confidence"), "views[0].views[1].confidence", "on every view"),
    (lambda d: d["views"][0].pop("weights"), "views[0].weights", "needs the market weights"),
    (lambda d: d["views"][0].pop("delta"), "views[0].delta", "risk aversion"),
    (lambda d: d["views"][0].update(equilibrium=False), "views[0].weights", "equilibrium: false"),
    (lambda d: d["views"][0]["weights"].update(Gold=0.1), "views[0].weights.Gold", "unknown driver or instrument"),
    (lambda d: d["views"][0].update(weights={"US_Equity": 0.0}), "views[0].weights", "all zero"),
    (lambda d: d["views"][0].update(stages=[[0], [1]]), "views[0].stages", "one step"),
    (lambda d: d["views"][0].update(tau=0), "views[0].tau", "greater than 0"),
    (lambda d: d["views"][0]["views"].append(dict(_view(d), value=0.01)), "views[0].views", "linearly dependent"),
])
def test_bad_black_litterman_sets(bl_dict, mutate, path, fragment):
    err = _bad(bl_dict, mutate)
    assert err.path == path and fragment in err.reason, (err.path, err.reason)


# ---- end to end -------------------------------------------------------------------------------------

@pytest.mark.cluster
def test_black_litterman_config_end_to_end(bl_dict, tmp_path):
    """configs/black_litterman.yaml at test size on a two-worker LocalCluster: the BL set's
    posterior means of its universe equal a numpy Black-Litterman on the written scenarios."""
    d = copy.deepcopy(bl_dict)
    d["scenarios"].update(count=2000, block_size=500, write=True)
    d["optimization"]["points"] = 4
    out = pipeline.run(parse_config(d, base_dir=CONFIG.parent), out=tmp_path / "run", workers=2, log=lambda m: None)
    run = pipeline.read_run(out)
    views = run["views"].set_index("view_set")
    assert (views["status"] == "ok").all(), views
    assert views.loc["bl_equity_rotation", "method"] == "black_litterman"
    assert views.loc["bl_equity_rotation", "max_residual"] < 1e-8
    scen = pd.read_parquet(out / "scenarios.parquet")
    probs = run["probabilities"]
    p = probs.query("view_set == 'prior'")["probability"].to_numpy()
    q = probs.query("view_set == 'bl_equity_rotation'")["probability"].to_numpy()
    spec = d["views"][0]
    universe = list(spec["weights"])  # the views name no other variable
    XU = scen[universe].to_numpy()  # equities and cash on their own drivers: P&L = the driver's return
    P = np.array([[-1.0, 0, 1, 0, 0], [0, 0, 0, 0, 1]])
    Q = np.array([v["value"] for v in spec["views"]])
    mu, _ = independent_bl(XU, p, P, Q, spec["tau"], [v["confidence"] for v in spec["views"]],
                           weights=np.array(list(spec["weights"].values())), delta=spec["delta"])
    assert np.abs(XU.T @ q - mu).max() < 1e-8
    checks = run["view_checks"].query("view_set == 'bl_equity_rotation'")
    means = checks[checks["view"].str.startswith("BL posterior mean")].set_index("on").loc[universe]
    assert np.allclose(means["prior_value"], XU.T @ p, atol=1e-12)  # the stage saw these scenarios
    assert np.allclose(means["target"], mu, atol=1e-8)
    fr = run["frontier"]
    assert set(fr["view_set"]) == {"prior", "bl_equity_rotation", "equity_selloff"}
    assert (fr["status"] == "optimal").all() and np.allclose(fr["budget"], 1.0, atol=1e-7)
    # the BL world moves the frontier: the same portfolio has another expected return under q
    e = fr.query("view_set == 'prior' and risk_measure == 'CVaR'").iloc[-1]
    R = scen[[c[2:] for c in fr.columns if c.startswith("e_")]].to_numpy()
    w = e[[c for c in fr.columns if c.startswith("e_")]].to_numpy(dtype=float)
    assert abs((R @ w) @ q - (R @ w) @ p) > 1e-4
