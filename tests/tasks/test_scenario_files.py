"""Scenario files read right: prices, dates, the rows' frequency against the horizon, bad cells.

Numbers are cross-checked by brute force on the price levels: a scenario of k periods is the
compounded return ``P[end] / P[start] - 1`` of its window, however the file was ordered.
"""

import numpy as np
import pandas as pd
import pytest

from tasks.errors import ScenarioFileError
from tasks.scenarios import (
    aggregate_periods,
    describe_frequency,
    exponential_decay_probabilities,
    horizon_periods,
    infer_periods_per_year,
    load_history_file,
    load_scenario_file,
    parse_dates,
    periods_per_year,
    price_log_returns,
    prior_probabilities,
    read_scenario_file,
)


def _prices(dates, seed=0, d=2):
    rng = np.random.default_rng(seed)
    levels = 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, (len(dates), d)), axis=0))
    df = pd.DataFrame(levels, columns=["SPX", "AGG"][:d])
    df.insert(0, "Date", pd.DatetimeIndex(dates).strftime("%Y-%m-%d"))
    return df


def _write(df, tmp_path, name="prices.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _error(path, horizon=1.0, **kw) -> ScenarioFileError:
    with pytest.raises(ScenarioFileError) as info:
        load_history_file(path, horizon, **kw)
    return info.value


# ---- prices and dates ---------------------------------------------------------------------------

def test_daily_prices_become_compounded_yearly_scenarios(tmp_path):
    """The issue's file (Date,SPX,AGG prices), shuffled: sorted by date, daily inferred, summed per year."""
    df = _prices(pd.bdate_range("2014-01-01", periods=2530))
    shuffled = df.sample(frac=1.0, random_state=3)
    h = load_history_file(_write(shuffled, tmp_path), 1.0, returns="prices", date_column="Date")
    assert h.periods_per_year == 252.0 and h.periods_per_scenario == 252
    assert h.scenarios.names == ["SPX", "AGG"] and h.scenarios.horizon == 1.0
    # brute force: 2529 returns -> 10 windows of 252, the oldest 9 returns left out
    levels = df[["SPX", "AGG"]].to_numpy()
    ends = len(df) - 1 - 252 * np.arange(9, -1, -1)
    compounded = levels[ends] / levels[ends - 252] - 1.0
    assert h.scenarios.values.shape == (10, 2)
    assert np.allclose(np.expm1(h.scenarios.values), compounded, rtol=1e-12, atol=1e-13)
    assert np.array_equal(h.p, np.full(10, 0.1))
    assert "daily" in h.summary and "10 scenarios" in h.summary and "oldest 9 returns" in h.summary


def test_prices_without_dates_keep_each_row_one_horizon(tmp_path):
    df = _prices(pd.bdate_range("2020-01-01", periods=30)).drop(columns="Date")
    s, p = load_scenario_file(_write(df, tmp_path), 1 / 12, returns="prices")
    levels = df.to_numpy()
    assert np.allclose(s.values, np.log(levels[1:] / levels[:-1]), rtol=1e-13, atol=1e-15)
    assert np.array_equal(p, np.full(29, 1 / 29))


def test_monthly_frequency_without_dates_aggregates_to_quarters(tmp_path):
    rng = np.random.default_rng(4)
    r = rng.normal(0.005, 0.04, (62, 2))
    path = _write(pd.DataFrame(r, columns=["EQ", "BD"]), tmp_path, "monthly.csv")
    h = load_history_file(path, 0.25, returns="simple", frequency="monthly")
    assert h.periods_per_scenario == 3
    want = np.prod(1.0 + r[2:].reshape(20, 3, 2), axis=1) - 1.0  # the oldest 2 months left out
    assert np.allclose(np.expm1(h.scenarios.values), want, rtol=1e-12, atol=1e-14)


def test_weights_of_rows_become_weights_of_windows(tmp_path):
    """An exponential prior on the rows is exponential on the windows, half-life / k (closed form)."""
    df = _prices(pd.bdate_range("2010-01-01", periods=12 * 21 * 5 + 1))
    h = load_history_file(_write(df, tmp_path), 1 / 12, returns="prices", date_column="Date",
                          prior="exponential", half_life=63)
    assert h.periods_per_scenario == 21 and h.p.shape == (60,)
    assert np.allclose(h.p, exponential_decay_probabilities(60, 63 / 21), rtol=1e-12)
    w = np.arange(1.0, 31.0)
    df2 = pd.DataFrame({"Date": pd.date_range("2000-01-31", periods=30, freq="ME").strftime("%Y-%m-%d"),
                        "EQ": np.linspace(-0.05, 0.05, 30), "p": w / w.sum()})
    h2 = load_history_file(_write(df2, tmp_path, "w.csv"), 0.25, date_column="Date", probability_column="p")
    sums = w.reshape(10, 3).sum(axis=1)
    assert h2.scenarios.names == ["EQ"] and np.allclose(h2.p, sums / sums.sum(), rtol=1e-14)


def test_price_file_probabilities_drop_the_first_row(tmp_path):
    df = _prices(pd.bdate_range("2020-01-01", periods=5)).drop(columns="Date")
    df["p"] = [0.4, 0.1, 0.1, 0.2, 0.2]
    _, p = load_scenario_file(_write(df, tmp_path), 1.0, returns="prices", probability_column="p")
    assert np.allclose(p, [1 / 6, 1 / 6, 1 / 3, 1 / 3], rtol=1e-14)


def test_parquet_with_a_date_index_and_yyyymmdd_integers(tmp_path):
    df = _prices(pd.bdate_range("2015-01-01", periods=700))
    indexed = df.assign(Date=pd.to_datetime(df["Date"])).set_index("Date")
    indexed.to_parquet(tmp_path / "prices.parquet")  # the dates as a named pandas index
    a = load_history_file(tmp_path / "prices.parquet", 0.25, returns="prices", date_column="Date")
    ints = df.assign(Date=df["Date"].str.replace("-", "").astype(int))
    b = load_history_file(_write(ints, tmp_path, "ints.csv"), 0.25, returns="prices", date_column="Date")
    assert a.periods_per_scenario == b.periods_per_scenario == 63
    assert np.array_equal(a.scenarios.values, b.scenarios.values) and a.scenarios.values.shape == (11, 2)


def test_duplicate_dates_are_refused_with_their_rows(tmp_path):
    df = _prices(pd.bdate_range("2020-01-01", periods=40))
    df.loc[7, "Date"] = df.loc[6, "Date"]
    df.loc[30, "Date"] = df.loc[12, "Date"]
    err = _error(_write(df, tmp_path), returns="prices", date_column="Date")
    assert err.field == "date_column"
    assert "duplicate" in str(err) and "rows 7, 8" in str(err) and "rows 13, 31" in str(err)


def test_unparseable_dates_are_listed(tmp_path):
    df = _prices(pd.bdate_range("2020-01-01", periods=40))
    df.loc[4, "Date"] = "not a date"
    err = _error(_write(df, tmp_path), returns="prices", date_column="Date")
    assert err.field == "date_column" and "row 5 ('not a date')" in str(err)
    err = _error(_write(df, tmp_path, "x.csv"), returns="prices", date_column="Datum")
    assert err.field == "date_column" and "'Datum' not in x.csv" in str(err)


def test_dates_without_date_column_say_how_to_read_them(tmp_path):
    err = _error(_write(_prices(pd.bdate_range("2020-01-01", periods=40)), tmp_path), returns="prices")
    assert err.field == "source" and "holds dates" in str(err) and "date_column: Date" in str(err)


def test_non_positive_prices_are_refused_at_their_dates(tmp_path):
    df = _prices(pd.bdate_range("2020-01-01", periods=40))
    df.loc[9, "AGG"] = 0.0
    err = _error(_write(df, tmp_path), 1 / 252, returns="prices", date_column="Date")
    assert err.field == "source" and "prices must be > 0" in str(err) and df.loc[9, "Date"] in str(err)


# ---- prices read as returns ---------------------------------------------------------------------

def test_prices_read_as_returns_are_refused(tmp_path):
    """Today: 'Date is not numeric', and without the date column returns of 604,967 %."""
    df = _prices(pd.bdate_range("2020-01-01", periods=300)).drop(columns="Date")
    err = _error(_write(df, tmp_path), 1.0, returns="simple")
    assert err.field == "returns" and "'SPX', 'AGG'" in str(err) and "returns: prices" in str(err)
    err = _error(_write(df, tmp_path), 1.0, returns="log")
    assert err.field == "returns"


def test_a_row_counter_is_not_taken_as_returns(tmp_path):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"Unnamed: 0": np.arange(50), "EQ": rng.normal(0, 0.05, 50)})
    err = _error(_write(df, tmp_path), 1 / 12)
    assert err.field == "returns" and "'Unnamed: 0'" in str(err) and "row numbers" in str(err)


def test_large_but_real_returns_are_accepted(tmp_path):
    """Crypto-like yearly returns: a few rows beyond +100 % are legitimate."""
    r = np.array([3.0, -0.7, 1.2, 0.4, -0.5, 0.9, 0.1, -0.2, 0.6, -0.3])
    s, _ = load_scenario_file(_write(pd.DataFrame({"BTC": r}), tmp_path), 1.0)
    assert np.allclose(s.values[:, 0], np.log1p(r), rtol=1e-15)


def test_legacy_return_files_are_read_exactly_as_before(tmp_path):
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"SPX": rng.normal(0.005, 0.04, 400), "Bund": rng.normal(0.001, 0.01, 400)})
    s, p = load_scenario_file(_write(df, tmp_path), 1 / 12, prior="exponential", half_life=120)
    assert np.array_equal(s.values, np.log1p(df.to_numpy())) and s.horizon == 1 / 12
    assert np.array_equal(p, prior_probabilities(400, "exponential", 120))


# ---- frequency against the horizon -------------------------------------------------------------

@pytest.mark.parametrize(("dates", "expected"), [
    (pd.bdate_range("2020-01-01", periods=300), 252.0),
    (pd.date_range("2020-01-01", periods=300, freq="D"), 365.0),  # crypto: weekends trade
    (pd.date_range("2020-01-03", periods=100, freq="W-FRI"), 52.0),
    (pd.date_range("2000-01-31", periods=100, freq="ME"), 12.0),
    (pd.date_range("2000-03-31", periods=40, freq="QE"), 4.0),
    (pd.date_range("1990-12-31", periods=30, freq="YE"), 1.0),
])
def test_frequency_is_inferred_from_the_dates(dates, expected):
    assert infer_periods_per_year(pd.DatetimeIndex(dates))[0] == expected


def test_irregular_dates_need_a_frequency(tmp_path):
    dates = pd.DatetimeIndex(["2020-01-01", "2020-01-13", "2020-01-28", "2020-02-15", "2020-03-06"])  # 12-20 days
    assert infer_periods_per_year(dates)[0] is None
    df = pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "EQ": [0.01, -0.02, 0.0, 0.03, 0.01]})
    err = _error(_write(df, tmp_path), 1.0, date_column="Date")
    assert err.field == "frequency" and "set scenarios.frequency" in str(err)


def test_a_frequency_that_contradicts_the_dates_is_refused(tmp_path):
    path = _write(_prices(pd.bdate_range("2020-01-01", periods=300)), tmp_path)
    err = _error(path, 1.0, returns="prices", date_column="Date", frequency="monthly")
    assert err.field == "frequency" and "use frequency: daily" in str(err)
    crypto = load_history_file(path, 7 / 365, returns="prices", date_column="Date", frequency=365)
    assert crypto.periods_per_scenario == 7  # 365 a year is close enough to business days to be meant


def test_horizon_must_be_a_whole_number_of_periods(tmp_path):
    path = _write(_prices(pd.bdate_range("2000-01-01", periods=3000)), tmp_path)
    err = _error(path, 0.1, returns="prices", date_column="Date")
    assert err.field == "horizon" and "25.2 daily periods" in str(err)
    assert "horizon: 0.0992063 (25 periods) or 0.103175 (26)" in str(err)
    err = _error(path, 1 / 365, returns="prices", date_column="Date")
    assert err.field == "horizon" and "shorter than the rows' period" in str(err)
    err = _error(path, 5.0, returns="prices", date_column="Date")
    assert err.field == "horizon" and "hold 2 non-overlapping horizon windows" in str(err)
    assert load_history_file(path, 0.0833, returns="prices", date_column="Date").periods_per_scenario == 21


def test_horizon_periods_and_frequency_names():
    assert horizon_periods(1.0, 252.0) == 252 and horizon_periods(1 / 12, 12.0) == 1
    assert horizon_periods(0.0833, 12.0) == 1  # a month written with 4 digits
    with pytest.raises(ValueError, match="not a whole number"):
        horizon_periods(0.15, 12.0)
    with pytest.raises(ValueError, match="shorter than the rows' period"):
        horizon_periods(0.08, 12.0)
    assert periods_per_year("Monthly") == 12.0 and periods_per_year(365) == 365.0
    assert describe_frequency(52.0) == "weekly" and describe_frequency(365.0) == "365-a-year"
    for bad in ("fortnightly", 0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            periods_per_year(bad)


def test_numeric_index_column_orders_rows_without_a_period(tmp_path):
    df = pd.DataFrame({"t": [3, 1, 2], "EQ": [0.03, 0.01, 0.02]})
    s, _ = load_scenario_file(_write(df, tmp_path), 1.0, date_column="t")
    assert np.allclose(np.expm1(s.values[:, 0]), [0.01, 0.02, 0.03], rtol=1e-14)
    assert parse_dates(pd.Series([20240102, 20240103]), "d")[1] == pd.Timestamp("2024-01-03")


# ---- bad cells ----------------------------------------------------------------------------------

def test_every_bad_column_is_listed_with_one_based_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("EQ,BD,FX\n0.01,0.002,0.0\nabc,0.004,0.1\n0.02,,0.2\n0.01,--,inf\n")
    with pytest.raises(ScenarioFileError) as info:
        read_scenario_file(path)
    msg = str(info.value)
    lines = path.read_text().splitlines()
    assert "row 1 = the first data row" in msg and lines[2].startswith("abc")  # row 2 is line 3
    assert "column 'EQ' is not numeric at row 2 ('abc')" in msg
    assert "column 'BD' is not numeric at row 4 ('--'), has 1 NaN/inf values at row 3" in msg
    assert "column 'FX' has 1 NaN/inf values at row 4" in msg


# ---- the numerics on their own ------------------------------------------------------------------

def test_aggregate_periods_against_brute_force():
    rng = np.random.default_rng(2)
    x, w = rng.normal(0, 0.01, (23, 3)), rng.uniform(0.5, 1.0, 23)
    X, q = aggregate_periods(x, w / w.sum(), 5)
    brute = np.array([[x[3 + 5 * i:8 + 5 * i, j].sum() for j in range(3)] for i in range(4)])
    assert np.allclose(X, brute, rtol=1e-13, atol=1e-16)
    qb = np.array([w[3 + 5 * i:8 + 5 * i].sum() for i in range(4)])
    assert np.allclose(q, qb / qb.sum(), rtol=1e-13)
    assert np.array_equal(aggregate_periods(x, w, 1)[0], x)
    P = np.exp(np.cumsum(x, axis=0))
    assert np.allclose(price_log_returns(P), x[1:], rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError):
        price_log_returns(np.array([[1.0], [0.0]]))
