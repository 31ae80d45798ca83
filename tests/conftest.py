import copy
from pathlib import Path

import pytest

from pipeline.config import safe_load

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def case_dict() -> dict:
    """The derivatives case study config as a mapping (tests modify copies of it)."""
    return safe_load((ROOT / "configs" / "derivatives_case.yaml").read_text())


@pytest.fixture
def small_case(case_dict, tmp_path) -> dict:
    """The case study at test size: 2,000 scenarios, 6 frontier points, output under tmp_path."""
    d = copy.deepcopy(case_dict)
    d["name"] = "small_case"
    d["scenarios"].update(count=2000, chunks=3, block_size=250)
    d["optimization"]["points"] = 6
    d["output"] = {"dir": str(tmp_path / "out")}
    return d
