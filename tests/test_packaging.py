"""Packaging: `make` installs the locked versions (requirements.lock as pip constraints), the lock
pins every dependency within pyproject's ranges, and the build metadata uses no deprecated form
(the setuptools licence warning that `make run` printed)."""

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _install_recipe() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    head = re.search(r"^\$\(VENV\)/\.installed:(.*)$", text, flags=re.M)
    assert head, "Makefile: no $(VENV)/.installed rule"
    body = text[head.end():].split("\n\n", 1)[0]
    return [head[1], *body.strip().splitlines()]


def test_license_is_an_spdx_string_and_setuptools_knows_it():
    assert PYPROJECT["project"]["license"] == "MIT"  # a TOML table is deprecated (setuptools >= 77 warns)
    reqs = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    setuptools = next(r for r in reqs if r.name == "setuptools")
    assert Version("77") in setuptools.specifier and Version("76.1") not in setuptools.specifier


def test_lock_pins_every_dependency_within_its_range():
    pins = _lock()
    deps = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]
    for dep in map(Requirement, deps):
        name = canonicalize_name(dep.name)
        if name == "ruff":  # the linter is not pinned
            continue
        assert name in pins, f"requirements.lock does not pin {dep.name}"
        assert pins[name] in dep.specifier, f"requirements.lock pins {dep.name}=={pins[name]}, outside {dep}"


def test_make_installs_with_the_lock_as_constraints():
    deps, *commands = _install_recipe()
    assert "requirements.lock" in deps.split()  # a changed lock reinstalls
    install = [c for c in commands if "pip install" in c and "-e" in c]
    assert len(install) == 1
    assert re.search(r"(--constraint|-c)\s+requirements\.lock\b", install[0]), install[0]


def test_the_installed_versions_are_the_locked_ones():
    """After `make` (the stamp is newer than the lock and pyproject), every locked package that is
    installed has the locked version (highspy 1.16.0 was installed while the lock pins 1.15.1)."""
    stamp = Path(sys.prefix) / ".installed"
    newest = max((ROOT / f).stat().st_mtime for f in ("requirements.lock", "pyproject.toml", "Makefile"))
    if not stamp.is_file() or stamp.stat().st_mtime < newest:
        pytest.skip("this environment was not installed by `make` since the lock, pyproject or Makefile changed")
    wrong = {}
    for name, version in _lock().items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            continue
        if installed != version:
            wrong[name] = f"{installed} (lock {version})"
    assert not wrong, f"installed versions differ from requirements.lock: {wrong}"

