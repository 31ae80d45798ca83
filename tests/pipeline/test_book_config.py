"""The book's config sections resolve to the right plan pieces, and bad ones fail with key paths."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline.config import ConfigError, parse_config, safe_load
from pipeline.resolve import build_plan
from tasks.instruments import market_value
from tasks.scenarios import ShockSpace, shock_values
from tests.conftest import ROOT

BOOK_RISK = ROOT / "configs" / "book_risk.yaml"


def _data() -> dict[str, Any]:
    """configs/book_risk.yaml, its replay files made absolute (tests resolve some from tmp_path)."""
    data = safe_load(BOOK_RISK.read_text())
    for s in data["shocks"]:
        if "from_history" in s:
            s["from_history"]["file"] = str(BOOK_RISK.parent / s["from_history"]["file"])
    return data


def _plan(data: dict[str, Any], base: Path = BOOK_RISK.parent):
    data = copy.deepcopy(data)
    data.setdefault("scenarios", {})["count"] = 200
    return build_plan(parse_config(data, base_dir=base))


def _error(data: dict[str, Any], base: Path = BOOK_RISK.parent) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        _plan(data, base)
    return info.value


# ---- the book -----------------------------------------------------------------------------------

def test_inline_holdings_with_cash_meet_the_budget():
    plan = _plan(_data())
    book = plan.book
    held = _data()["book"]["holdings"]
    e = dict(zip(book.names, book.holdings))
    assert all(e[n] == pytest.approx(x, abs=0) for n, x in held.items())
    assert book.v @ book.holdings == pytest.approx(1.0, abs=1e-12)
    # USD_bill holds exactly the rest of the value
    j = book.names.index("USD_bill")
    rest = 1.0 - sum(book.v[book.names.index(n)] * x for n, x in held.items())
    assert book.holdings[j] == pytest.approx(rest / book.v[j], rel=1e-12)
    assert book.value == 250_000_000


def test_positions_file_in_quantities_converts_with_spot_and_value(tmp_path):
    data = _data()
    plan = _plan(data)
    specs = {s["name"]: s for s in data["instruments"]}
    value = 2_000_000.0
    rows = [("SPX", 1_000_000.0, 1), ("SPX_P95_3m", -5.0, 100), ("UST_10y", 600_000.0, 1)]
    pd.DataFrame(rows, columns=["instrument", "quantity", "multiplier"]).to_csv(tmp_path / "pos.csv", index=False)
    data["book"] = {"file": "pos.csv", "value": value, "cash": "USD_bill"}
    data["instruments"] = data["instruments"]
    book = _plan(data, tmp_path).book
    e = dict(zip(book.names, book.holdings))
    # cash/equity/bond quantities are currency amounts (face for the bond); an option's is units of the
    # underlying, each worth its spot (1.0 here) times the multiplier
    assert e["SPX"] == pytest.approx(1_000_000 / value)
    assert e["UST_10y"] == pytest.approx(600_000 / value)
    assert e["SPX_P95_3m"] == pytest.approx(-5.0 * 100 * specs["SPX_P95_3m"].get("spot", 1.0) / value)
    assert book.v @ book.holdings == pytest.approx(1.0, abs=1e-12)
    assert plan.book.names == book.names


def test_positions_value_defaults_to_the_model_market_value(tmp_path):
    data = _data()
    pd.DataFrame({"instrument": ["SPX", "USD_bill", "SPX_P90_3m"], "quantity": [600.0, 400.0, -1000.0]}).to_csv(
        tmp_path / "pos.csv", index=False)
    data["book"] = {"file": "pos.csv"}
    plan = _plan(data, tmp_path)
    insts = {i.name: i for i in plan.book.instruments}
    expected_value = 600.0 + 400.0 * market_value(insts["USD_bill"]) - 1000.0 * market_value(insts["SPX_P90_3m"])
    assert plan.book.value == pytest.approx(expected_value, rel=1e-12)
    assert plan.book.v @ plan.book.holdings == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("rows", "fragment"), [
    ({"instrument": ["SPX", "Gold"], "exposure": [0.5, 0.5]}, "row 2: unknown instrument 'Gold'"),
    ({"instrument": ["SPX", "SPX"], "exposure": [0.5, 0.5]}, "lists SPX more than once"),
    ({"instrument": ["SPX", "USD_bill"], "exposure": [0.5, "x"]}, "column exposure has no finite number in row(s) 2"),
    ({"instrument": ["SPX"], "exposure": [0.5], "quantity": [1.0]}, "both exposure and quantity"),
])
def test_bad_positions_files_name_the_row(tmp_path, rows, fragment):
    pd.DataFrame(rows).to_csv(tmp_path / "pos.csv", index=False)
    data = _data()
    data["book"] = {"file": "pos.csv"}
    err = _error(data, tmp_path)
    assert err.path == "book.file" and fragment in err.reason, err


def test_book_off_budget_says_by_how_much():
    data = _data()
    del data["book"]["cash"]
    err = _error(data)
    assert err.path == "book.holdings" and "not 1" in err.reason


def test_book_name_is_reserved_and_views_may_target_the_book():
    data = _data()
    data["instruments"][0]["name"] = "book"
    with pytest.raises(ConfigError, match="reserved"):
        parse_config(data, base_dir=BOOK_RISK.parent)
    plan = _plan(_data())
    assert [list(v.variables) for v in plan.view_sets[0].views] == [["book"]]


# ---- shocks -------------------------------------------------------------------------------------

def test_named_shocks_resolve_with_their_propagation():
    plan = _plan(_data())
    entries = {e.name: e for e in plan.shocks.entries}
    crash = entries["equity_crash"]
    assert crash.source == "config" and crash.propagate == "none" and crash.shocks[0].as_simple
    assert entries["spx_gap_down"].propagate == "conditional"
    x = shock_values(list(crash.shocks), plan.shocks.space)[0]
    space = plan.shocks.space
    assert x[space.index("SPX")] == pytest.approx(np.log(0.8))  # -20 % as a simple return
    assert x[space.index("USD_parallel")] == pytest.approx(-0.005)
    assert isinstance(space, ShockSpace) and space.horizon == pytest.approx(plan.scenarios.model.horizon)


def test_replay_rows_are_dates_or_one_based_numbers():
    plan = _plan(_data())
    replay = {e.name: e for e in plan.shocks.entries}["replay"]
    assert [s.name for s in replay.shocks] == ["replay:2024-03-18", "replay:2024-08-05"]
    hist = pd.read_csv(BOOK_RISK.parent / "data" / "index_daily_moves.csv", index_col="date")
    for s in replay.shocks:
        day = s.name.split(":")[1]
        assert s.moves == pytest.approx(hist.loc[day].to_dict())
    data = _data()
    data["shocks"][2]["from_history"]["rows"] = [1, 3]
    replay = {e.name: e for e in _plan(data).shocks.entries}["replay"]
    assert [s.name for s in replay.shocks] == [f"replay:{hist.index[0]}", f"replay:{hist.index[2]}"]
    assert replay.shocks[1].moves == pytest.approx(hist.iloc[2].to_dict())


def test_replay_of_prices_is_the_change_into_the_row(tmp_path):
    levels = pd.DataFrame({"date": ["2024-01-02", "2024-01-03", "2024-01-04"], "SPX": [100.0, 90.0, 99.0],
                           "USD_parallel": [0.040, 0.038, 0.041]})
    levels.to_csv(tmp_path / "levels.csv", index=False)
    data = _data()
    data["book"]["holdings"] = dict(data["book"]["holdings"])
    data["shocks"] = [{"name": "px", "from_history": {"file": str(tmp_path / "levels.csv"), "date_column": "date",
                                                     "returns": "prices", "rows": [2, "2024-01-04"]}}]
    entry = _plan(data).shocks.entries[0]
    a, b = entry.shocks
    assert a.name == "px:2024-01-03" and a.moves["SPX"] == pytest.approx(np.log(0.9))
    assert a.moves["USD_parallel"] == pytest.approx(-0.002)
    assert b.moves["SPX"] == pytest.approx(np.log(99 / 90)) and b.moves["USD_parallel"] == pytest.approx(0.003)
    data["shocks"][0]["from_history"]["rows"] = [1]
    assert "first prices" in _error(data).reason


def test_worst_entry_keeps_every_row_as_a_candidate():
    plan = _plan(_data())
    worst = {e.name: e for e in plan.shocks.entries}["worst_days"]
    assert worst.worst == 3 and worst.source == "history worst" and len(worst.shocks) == 520


@pytest.mark.parametrize(("change", "path", "fragment"), [
    (lambda d: d["shocks"][0]["drivers"].update({"SPX_volatility": 0.5}), "shocks[0].drivers.SPX_volatility",
     "did you mean 'SPX_vol'?"),
    (lambda d: d["shocks"][0]["drivers"].update({"USD_parallel": -50}), "shocks[0].drivers.USD_parallel",
     "did you mean -0.5?"),
    (lambda d: d["shocks"][1].update({"name": "equity_crash"}), "shocks[1].name", "used twice"),
    (lambda d: d["shocks"][2]["from_history"].update({"worst": 2}), "shocks[2].from_history", "not both"),
    (lambda d: d["shocks"][3]["from_history"].update({"worst": 600}), "shocks[3].from_history.worst",
     "the file has 520"),
    (lambda d: d["shocks"][2]["from_history"].update({"rows": [0]}), "shocks[2].from_history.rows[0]",
     "start at 1"),
    (lambda d: d["shocks"][0].update({"from_history": {"file": "data/index_daily_moves.csv"}}), "shocks[0]",
     "exactly one of drivers"),
    (lambda d: d.pop("book"), "shocks[3].from_history.worst", "add a book"),
])
def test_bad_shocks_name_the_key(change, path, fragment):
    data = _data()
    change(data)
    if "book" not in data:  # no book: drop what else needs it, so the worst replay is the first error
        data.pop("limits")
        data.pop("rebalance")
        data["views"] = data["views"][2:]
    err = _error(data)
    assert err.path == path and fragment in err.reason, err


def test_replay_file_with_an_unknown_driver_column(tmp_path):
    pd.DataFrame({"date": ["2024-01-02"], "SPX": [-0.01], "Gold": [0.02]}).to_csv(tmp_path / "h.csv", index=False)
    data = _data()
    data["shocks"] = [{"name": "r", "from_history": {"file": str(tmp_path / "h.csv"), "date_column": "date"}}]
    err = _error(data)
    assert err.path == "shocks[0].from_history.file" and "column 'Gold' is not a driver" in err.reason


# ---- limits and rebalance -----------------------------------------------------------------------

def test_limits_resolve_bounds_caps_and_costs():
    plan = _plan(_data())
    lim = plan.limits
    names = list(plan.book.names)
    lo, hi = lim.constraints.bounds
    opt = [i for i, s in enumerate(_data()["instruments"]) if s["kind"] == "option"]
    assert np.all(lo[opt] == -1.0) and np.all(hi[opt] == 1.0)
    assert np.isinf(lo[names.index("SPX")]) and lim.constraints.upperCVaR == 0.08 and lim.constraints.leverage == 4.0
    assert lim.view_caps == (("equity_selloff", "CVaR", 0.20),)
    costs = dict(zip(names, lim.costs))
    assert costs["USD_bill"] == 0.0 and costs["SPX_P90_3m"] == 0.002 and costs["SPX"] == 0.0005
    assert costs["SPX_fut_Mar"] == 0.0001 and costs["SPX_varswap_6m"] == 0.003
    rows = lim.constraints.greeks.rows
    assert ("vega", "SPX") in rows and lim.constraints.greeks.limits[("vega", "SPX")] == (-0.10, None)


@pytest.mark.parametrize(("change", "path", "fragment"), [
    (lambda d: d["limits"]["greeks"].update({"vega": {"NKY": [-0.1, None]}}), "limits.greeks.vega.NKY",
     "no instrument has a vega"),
    (lambda d: d["limits"].update({"bounds": {"Gold": [0, 1]}}), "limits.bounds.Gold", "unknown instrument"),
    (lambda d: d["limits"].update({"turnover": 0.5}), "limits.turnover", "remove this key"),
    (lambda d: d["limits"].update({"view_caps": {"equity_sell_off": {"CVaR": 0.2}}}),
     "limits.view_caps.equity_sell_off", "did you mean 'equity_selloff'?"),
    (lambda d: d["rebalance"]["costs"].update({"option": -0.01}), "rebalance.costs.option", ">= 0"),
    (lambda d: d.pop("limits"), "rebalance", "add a limits: section"),
    (lambda d: d["book"].update({"cash": "USD_cash"}), "book.cash", "unknown instrument 'USD_cash'"),
])
def test_bad_limits_name_the_key(change, path, fragment):
    data = _data()
    change(data)
    err = _error(data)
    assert err.path == path and fragment in err.reason, err
