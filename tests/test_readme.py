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
