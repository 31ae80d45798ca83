"""The README's Python API example runs as written (numerics part; the pipeline part is covered
by the end-to-end tests)."""

import re

from tests.conftest import ROOT


def test_python_api_example_runs():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):text.index("## Running on a cluster")]
    block = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)  # noqa: S102 - our own documentation
    best, q, R = ns["best"], ns["q"], ns["R"]
    assert best.status == "optimal"
    assert abs(ns["conditional_value_at_risk"](R @ best.exposures, q, alpha=0.10) - best.risk) < 1e-6
    assert len(ns["frontier"]) == 10


def test_duckdb_frontier_query_keeps_constraint_sets_apart():
    """Every (view set, risk measure, constraint set) frontier is its own ordered group of rows in
    the README's DuckDB query (the values are checked on a run in tests/pipeline/test_report.py)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Outputs"):text.index("## Python API")]
    sql = re.findall(r"```sql\n(.*?)```", section, flags=re.S)[0]
    cols = [c.strip() for c in re.search(r"SELECT (.*?)\n", sql)[1].split(",")]
    order = [int(i) for i in re.search(r"ORDER BY ([\d, ]+);", sql)[1].split(",")]
    assert [cols[i - 1] for i in order] == ["view_set", "risk_measure", "constraint_set", "point"]
    assert "scenarios.parquet" not in "".join(re.findall(r"```python\n(.*?)```", section, flags=re.S))
