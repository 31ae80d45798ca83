"""Terminal tables fit the width without pandas' continuation lines; portfolio labels say what
each portfolio is (frontier point, target, Sharpe) and which constraint set it belongs to."""

import numpy as np
import pandas as pd

from pipeline.show import constraint_set_order, fit_table, headline_label, stress_matrix


def _wide(n_cols=14, n_rows=5):
    rng = np.random.default_rng(0)
    return pd.DataFrame({f"instrument_{j}": [f"{x:.2f}%" for x in rng.normal(0, 10, n_rows)]
                         for j in range(n_cols)}, index=[f"portfolio {i}" for i in range(n_rows)])


def test_wide_tables_are_split_into_column_blocks_that_fit():
    df = _wide()
    assert max(len(ln) for ln in df.to_string().splitlines()) > 60
    text = fit_table(df, 60)
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 60
    assert not any(ln.rstrip().endswith("\\") for ln in lines)
    for c in df.columns:  # every column printed once
        assert sum(ln.split().count(c) for ln in lines) == 1
    blocks = text.split("\n\n")
    assert len(blocks) > 1
    for b in blocks:  # each block repeats the row labels
        assert all(f"portfolio {i}" in b for i in range(len(df)))


def test_first_column_repeated_without_index_and_narrow_tables_untouched():
    df = _wide().reset_index(names="portfolio")
    text = fit_table(df, 70, index=False)
    assert max(len(ln) for ln in text.splitlines()) <= 70
    assert all("portfolio 3" in b for b in text.split("\n\n"))
    narrow = df.iloc[:, :3]
    assert fit_table(narrow, 200, index=False) == narrow.to_string(index=False, justify="right")


def test_labels_of_sharpe_targets_and_constraint_sets():
    row = pd.Series({"view_set": "prior", "risk_measure": "CVaR", "constraint_set": "base", "kind": "Sharpe",
                     "point": 0, "target": np.nan})
    assert headline_label(row) == "prior/CVaR Sharpe"
    row2 = row.copy()
    row2.update({"constraint_set": "neutral", "kind": "target", "target": 0.05})
    assert headline_label(row2) == "prior/CVaR@neutral @5.0%"
    assert constraint_set_order(pd.DataFrame({"constraint_set": ["x", "base", "x", "y"]})) == ["base", "x", "y"]


def test_stress_matrix_labels_sharpe_and_targets_of_one_constraint_set():
    fr = pd.DataFrame({"view_set": "prior", "risk_measure": "CVaR", "constraint_set": ["base", "set", "base"],
                       "kind": ["target", "target", "Sharpe"], "point": 0, "target": [0.05, 0.07, np.nan]})
    st = pd.DataFrame({"portfolio_view_set": "prior", "risk_measure": "CVaR", "constraint_set": "set",
                       "kind": ["frontier", "target", "Sharpe"], "point": [0, 0, 0], "eval_view_set": "prior",
                       "expected_return": [0.01, 0.07, 0.03], "CVaR": [0.1, 0.2, 0.15]})
    m = stress_matrix(st, ["prior"], fr)
    assert list(m.index) == ["p0", "target 7.0%", "Sharpe"]
