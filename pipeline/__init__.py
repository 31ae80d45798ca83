"""stressfrontier orchestration: YAML → validated config → run plan → Dask graph → Parquet run folder.

Public API: :func:`run` (one run end to end), :func:`read_run` (every table of a run folder),
:func:`load_config` (read and validate a YAML config) and :func:`build_plan` (resolve it into the
objects the run computes from).
"""

from pipeline.config import ConfigError, RunConfig, load_config
from pipeline.resolve import build_plan
from pipeline.runner import run
from pipeline.store import read_run

__all__ = ["run", "read_run", "load_config", "build_plan", "RunConfig", "ConfigError"]
