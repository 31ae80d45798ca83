"""Reading a run's YAML: safe parsing, schema validation and cross-field checks.

Every problem is reported as :class:`ConfigError` with the dotted key path (``instruments[3].strike``)
and a reason, before any work starts. YAML is read with a ``yaml.SafeLoader`` subclass only. The
schema is :mod:`pipeline.schema`, the checks :mod:`pipeline.validate`; :mod:`pipeline.resolve`
turns the result into the run plan.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.errors import ConfigError
from pipeline.schema import INSTRUMENT_KINDS, RunConfig
from pipeline.validate import check_config

__all__ = [
    "ConfigError",
    "RunConfig",
    "load_config",
    "parse_config",
    "config_hash",
    "safe_load",
    "yaml_error_line",
]


def config_hash(cfg: RunConfig) -> str:
    """SHA-256 of the canonical JSON of the config (stable key for deterministic task names)."""
    return hashlib.sha256(json.dumps(cfg.canonical(), sort_keys=True).encode()).hexdigest()


# ---- loading & validation ---------------------------------------------------------------------

class _SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 booleans: only true/false, so the view key ``on`` stays a
    string (YAML 1.1 would read ``on``/``off``/``yes``/``no`` as booleans)."""


_SafeLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def yaml_error_line(exc: yaml.YAMLError) -> str:
    """A one-line description of a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}"


def safe_load(text: str) -> Any:
    """Parse YAML safely (no object construction) with YAML 1.2 booleans."""
    return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in INSTRUMENT_KINDS and parts and parts[-1].endswith("]"):
            continue  # discriminator tag of the instrument union
        elif item == "[key]":
            continue  # a mapping's key failed: the path already ends with that key
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def parse_config(data: Any, base_dir: str | Path = ".") -> RunConfig:
    """Validate a config mapping; raise :class:`ConfigError` (first problem, with key path)."""
    if not isinstance(data, dict):
        raise ConfigError("", "the config must be a YAML mapping at top level")
    if "base_dir" in data:
        raise ConfigError("base_dir", "unknown key")
    try:
        cfg = RunConfig(**{**data, "base_dir": str(base_dir)})
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if err["type"] == "missing":
            msg = "required key is missing"
        raise ConfigError(_loc_to_path(tuple(err["loc"])), msg) from None
    check_config(cfg)
    return cfg


def load_config(path: str | Path) -> RunConfig:
    """Read a YAML config with ``yaml.safe_load`` and validate it."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("", yaml_error_line(exc)) from None
    return parse_config(data, base_dir=path.resolve().parent)


