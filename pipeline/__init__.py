"""stressfrontier orchestration: config → Dask graph → Parquet run folder.

Public API: :func:`run` (one run end to end) and :func:`read_run` (every table of a run folder).
"""

from pipeline.config import ConfigError, RunConfig, load_config
from pipeline.runner import run
from pipeline.store import read_run

__all__ = ["run", "read_run", "load_config", "RunConfig", "ConfigError"]
