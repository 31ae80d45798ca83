import numpy as np
import pandas as pd
import pytest

from tasks.optimization import Constraints, Portfolio, PortfolioProblem, optimize

NAMES = ["Gov", "Credit", "Equity", "Put_90"]


def _data(seed=2, s=500):
    rng = np.random.default_rng(seed)
    R = rng.normal(0.0, 1.0, size=(s, 4)) * [0.02, 0.04, 0.12, 0.06] + [0.003, 0.006, 0.012, -0.004]
    R[:, 3] -= 0.4 * R[:, 2]  # a put-like hedge
    p = rng.uniform(0.5, 1.0, s)
    paths = rng.normal(0.0, 0.02, size=(20, 12, 4)) + 0.001
    return pd.DataFrame(R, columns=NAMES), p / p.sum(), paths


@pytest.mark.parametrize("obj", ["MinRisk", "MaxRet", "Sharpe", "Utility"])
@pytest.mark.parametrize("rm", ["MV", "CVaR", "CDaR"])
def test_optimization_matches_optimize(rm, obj):
    df, p, paths = _data()
    v = np.array([1.0, 1.0, 1.0, 0.5])
    port = Portfolio(df, p, v=v, paths=paths, alpha=0.1, upperCVaR=0.08)
    w = port.optimization(model="Classic", rm=rm, obj=obj, rf=0.001, l=3.0, hist=True)
    assert list(w.index) == NAMES and list(w.columns) == ["weights"]
    assert w.attrs["status"] == "optimal" and port.result.ok
    ref = optimize(df.to_numpy(), p, v=v, rm=rm, obj=obj, alpha=0.1, rf=0.001, l=3.0, paths=paths,
                   constraints=Constraints(sht=False, upperCVaR=0.08), names=NAMES)
    assert np.allclose(w["weights"].to_numpy(), ref.exposures, atol=1e-10)
    assert port.result.risk == pytest.approx(ref.risk, abs=1e-12)
    assert (w["weights"] >= -1e-9).all() and v @ w["weights"].to_numpy() == pytest.approx(1.0, abs=1e-8)


def test_riskfolio_attributes_are_honoured():
    df, p, _ = _data()
    port = Portfolio(df, p, sht=True, uppersht=0.1, upperlng=1.1, alpha=0.1)
    port.upperCVaR = 0.03  # set after construction, as in Riskfolio-Lib
    port.allowTO, port.turnover, port.benchweights = True, 0.6, np.full(4, 0.25)
    w = port.optimization(rm="MV", obj="MaxRet")["weights"].to_numpy()
    assert port.result.status == "optimal"
    assert np.maximum(-w, 0).sum() <= 0.1 + 1e-7 and np.maximum(w, 0).sum() <= 1.1 + 1e-7
    assert np.abs(w - 0.25).sum() <= 0.6 + 1e-7
    assert port.problem("MV").evaluate_risk(w, "CVaR") <= 0.03 + 1e-7
    # tracking error against an index (kindbench=False) and against benchmark weights
    index = df.to_numpy() @ np.array([0.2, 0.3, 0.5, 0.0])
    port2 = Portfolio(df, p, allowTE=True, TE=0.01, kindbench=False, benchindex=index)
    w2 = port2.optimization(rm="CVaR", obj="MaxRet")["weights"].to_numpy()
    te = np.sqrt(p @ (df.to_numpy() @ w2 - index - p @ (df.to_numpy() @ w2 - index)) ** 2)
    assert te <= 0.01 + 1e-7
    port2.kindbench, port2.benchweights = True, np.array([0.2, 0.3, 0.5, 0.0])
    w3 = port2.optimization(rm="CVaR", obj="MaxRet")["weights"].to_numpy()
    assert np.allclose(w2, w3, atol=1e-6)  # the same benchmark P&L either way
    # text linear constraints and groups
    port3 = Portfolio(df, p, groups={"Risky": ["Equity", "Put_90"]}, linear=["Risky <= 0.3"])
    w4 = port3.optimization(rm="MV", obj="MaxRet")["weights"].to_numpy()
    assert w4[2] + w4[3] <= 0.3 + 1e-7


def test_frontier_limits_and_efficient_frontier_shapes():
    df, p, _ = _data()
    port = Portfolio(df, p, alpha=0.1)
    lim = port.frontier_limits(rm="CVaR")
    assert list(lim.columns) == ["w_min", "w_max"] and list(lim.index) == NAMES
    prob = PortfolioProblem(df.to_numpy(), p, rm="CVaR", alpha=0.1, constraints=Constraints(sht=False))
    assert np.allclose(lim["w_min"], prob.min_risk().exposures, atol=1e-10)
    fr = port.efficient_frontier(rm="CVaR", points=7)
    assert fr.shape == (4, 7) and list(fr.index) == NAMES and list(fr.columns) == list(range(7))
    assert (port.frontier_table["status"] == "optimal").all()
    assert np.allclose(fr[0], lim["w_min"], atol=1e-10)


def test_failures_are_reported_not_none():
    df, p, _ = _data()
    port = Portfolio(df, p, bounds=(0.0, 0.2))  # cannot meet the budget
    w = port.optimization(rm="MV", obj="MinRisk")
    assert w.attrs["status"] == "infeasible" and w["weights"].isna().all()
    port = Portfolio(df, p)
    w = port.optimization(rm="MV", obj="Sharpe", rf=1.0)
    assert w.attrs["status"] == "no_positive_excess"
    with pytest.raises(TypeError):
        Portfolio(df, p, uppercvar=0.1)  # typo in a Riskfolio name
    with pytest.raises(ValueError):
        port.optimization(model="FM")
    with pytest.raises(ValueError):
        port.optimization(rm="CVAR")
    with pytest.raises(ValueError):
        port.optimization(obj="MaxReturn")
