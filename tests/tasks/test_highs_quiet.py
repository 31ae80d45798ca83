"""HiGHS stays off stdout (issue 12, item 11): no banner, no log, from every solve of the Python
API that reaches HiGHS -- the max-return LP, a problem with ``solver="HIGHS"`` (cvxpy's HiGHS
interface) and the CVaR cutting-plane masters (our own highspy models).

highspy >= 1.16 prints its banner once per process, when the first ``Highs`` object is built,
from C++ on file descriptor 1: so each check runs in a fresh interpreter and reads its stdout."""

import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
import numpy as np
from tasks.optimization import PortfolioProblem, efficient_frontier
rng = np.random.default_rng(0)
R = rng.normal(0.001, 0.01, size=(600, 4)) + np.linspace(0, 1e-3, 4)
"""

CALLS = {
    "max_return_lp": "res = PortfolioProblem(R, rm='CVaR', bounds=(0.0, 0.6)).max_return(); assert res.ok",
    "cvxpy_highs": ("res = PortfolioProblem(R, rm='CVaR', bounds=(0.0, 0.6), solver='HIGHS').min_risk(0.0015);"
                    " assert res.ok"),
    "cut_masters": ("t = efficient_frontier(R, points=3, rm='CVaR', bounds=(0.0, 0.6), cvar_method='cuts');"
                    " assert (t['status'] == 'optimal').all()"),
}


def _run(code: str) -> tuple[str, str]:
    """(stdout, stderr) of ``code`` in a fresh interpreter at the repository root."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout, out.stderr


def test_the_check_sees_the_banner_of_a_bare_highs_object():
    """Control: building a bare ``highspy.Highs`` first does print (so the checks below can fail)."""
    if tuple(int(x) for x in version("highspy").split(".")[:2]) < (1, 16):
        pytest.skip("this highspy prints its banner only on a solve with output on")
    assert "Running HiGHS" in _run("import highspy; highspy.Highs()")[0]


@pytest.mark.parametrize("call", list(CALLS))
def test_no_highs_output(call):
    out, err = _run(SETUP + CALLS[call] + "\nprint('done')")
    assert out == "done\n", out
    assert "HiGHS" not in err, err
