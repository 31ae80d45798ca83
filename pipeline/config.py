"""Reading a run's YAML: safe parsing, schema validation and cross-field checks.

Every problem is reported as :class:`ConfigError` with the dotted key path (``instruments[3].strike``)
and a reason, before any work starts: a misspelt key is reported with the key it probably means
(``instruments[2].strike: required key is missing; instruments[2].strke is an unknown key: did
you mean strike?``), a fraction typed in percent with the decimal. YAML is read with a
``yaml.SafeLoader`` subclass only. The schema is :mod:`pipeline.schema`, the checks (unit slips
included) :mod:`pipeline.validate`; :mod:`pipeline.resolve` turns the result into the run plan.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.errors import ConfigError, did_you_mean
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
        raise _schema_error(exc.errors()) from None
    check_config(cfg)
    return cfg


# ---- schema errors: one line, with the likely fix ---------------------------------------------

def _schema_error(errors: list[Any]) -> ConfigError:
    """The first schema problem as a :class:`ConfigError`; a missing or unknown key is reported
    with the unknown or missing keys beside it and the likely misspelling (``strke`` -> ``strike``)."""
    err = errors[0]
    loc = tuple(err["loc"])
    path = _loc_to_path(loc)
    if err["type"] in ("missing", "extra_forbidden"):
        return ConfigError(path, _key_message(err["type"], loc, errors))
    return ConfigError(path, err["msg"] + _fraction_hint(loc, err.get("input")))


def _key_message(kind: str, loc: tuple[Any, ...], errors: list[Any]) -> str:
    """'required key is missing' / 'unknown key', naming the unknown / missing keys of the same
    mapping and the closest known key."""
    parent, key = loc[:-1], str(loc[-1])
    missing = [str(e["loc"][-1]) for e in errors if e["type"] == "missing" and tuple(e["loc"])[:-1] == parent]
    unknown = [str(e["loc"][-1]) for e in errors
               if e["type"] == "extra_forbidden" and tuple(e["loc"])[:-1] == parent]
    where = _loc_to_path(parent)
    known = _known_keys(parent)
    if kind == "missing":
        notes = []
        for u in unknown:
            guess = did_you_mean(u, missing) or did_you_mean(u, known)
            hint = f": did you mean {guess}?" if guess else ""
            notes.append(f"{_join(where, u)} is an unknown key{hint}")
        return "required key is missing" + "".join(f"; {n}" for n in notes)
    guess = did_you_mean(key, missing) or did_you_mean(key, known)
    if guess is None:
        return "unknown key" + (f" (keys here: {', '.join(known)})" if known else "")
    also = f" ({_join(where, guess)}: required key is missing)" if guess in missing else ""
    return f"unknown key: did you mean {guess}?{also}"


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema allows in the mapping at ``loc`` (a pydantic error location), or []."""
    model: Any = RunConfig
    i = 0
    while i < len(loc):
        field = model.model_fields.get(loc[i]) if _is_model(model) else None
        if field is None:
            return []
        model, i = _unwrap(field.annotation, loc, i + 1)
    if not _is_model(model):
        return []
    return [f.alias or n for n, f in model.model_fields.items() if not f.exclude]


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _unwrap(ann: Any, loc: tuple[Any, ...], i: int) -> tuple[Any, int]:
    """Follow a field's annotation through Annotated, lists, dicts and the instrument union,
    consuming the list indices, mapping keys and union tags of ``loc`` from position ``i``."""
    while True:
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        nxt = loc[i] if i < len(loc) else None
        if origin is typing.Annotated:
            ann = args[0]
        elif origin in (list, tuple) and isinstance(nxt, int):
            ann, i = args[0], i + 1
        elif origin is dict and nxt is not None:
            ann, i = args[1], i + 1
        elif origin in (typing.Union, types.UnionType):
            models = [a for a in args if _is_model(a)]
            tagged = [m for m in models if "kind" in m.model_fields
                      and nxt in typing.get_args(m.model_fields["kind"].annotation)]
            if len(models) == 1:
                ann = models[0]
            elif len(tagged) == 1:
                ann, i = tagged[0], i + 1
            else:
                return None, i
        else:
            return ann, i


#: keys whose schema range is a fraction, and what the fraction is
_FRACTIONS = {"alpha": "tail probability", "confidence": "confidence (a weight in (0, 1])"}


def _fraction_hint(loc: tuple[Any, ...], value: Any) -> str:
    """' (tail probability: looks like percent: did you mean 0.05?)' for a fraction out of range."""
    what = _FRACTIONS.get(str(loc[-1])) if loc else None
    if what is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 < value <= 100:
        return ""
    guess = value / 100
    if what.startswith("tail") and guess > 0.5:
        return f" ({value:g} reads as a confidence level in percent; tail probability: did you mean {1 - guess:.4g}?)"
    return f" ({what}: looks like percent: did you mean {guess:.4g}?)"


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


