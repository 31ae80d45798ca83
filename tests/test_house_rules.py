"""House rules that keep the code base learnable, checked on every run of the suite.

* ``tasks`` (the numerics) never imports ``pipeline`` (the orchestration).
* No import cycles among the modules of ``tasks`` and ``pipeline``, counting imports inside
  functions too (a lazy import hides a cycle, it does not remove it).
* Stage functions and everything under ``tasks`` never see the config: no ``pipeline.config``
  or ``pipeline.schema`` import there.
* No module over :data:`MAX_MODULE_LINES` lines and no function whose code (docstring aside)
  runs over :data:`MAX_FUNCTION_LINES` lines, unless a ``# long function: <why>`` comment stands
  right above its ``def`` (or its decorators).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tasks", "pipeline")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
LONG_MARK = "# long function:"
#: modules that receive plan pieces, never the config
CONFIG_FREE = ("pipeline.stages", "pipeline.plan_types")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules that ``path`` imports (anywhere in the file)."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    out.add(sub)  # `from pkg import module`: the module, not the package
                elif base in known:
                    out.add(base)
    out.discard(name)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(path, name, known) for name, path in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_tasks_never_imports_pipeline():
    bad = {m: sorted(d for d in deps if d.startswith("pipeline")) for m, deps in _graph().items()
           if m.startswith("tasks")}
    assert {m: d for m, d in bad.items() if d} == {}


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_cycle_detector_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_stages_and_tasks_never_see_the_config():
    graph = _graph()
    leaks = {m: sorted(d for d in deps if d in ("pipeline.config", "pipeline.schema", "pipeline.validate"))
             for m, deps in graph.items() if m.startswith("tasks") or m in CONFIG_FREE}
    assert {m: d for m, d in leaks.items() if d} == {}


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_is_short(name):
    n = len(_modules()[name].read_text().splitlines())
    assert n <= MAX_MODULE_LINES, f"{name}: {n} lines; split it by concern"


def _code_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = fn.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:] or body
    return body[-1].end_lineno - body[0].lineno + 1


def long_functions(path: Path) -> list[tuple[str, int]]:
    """(qualified name, code lines) of the functions over the limit without a ``# long function:`` note."""
    lines = path.read_text().splitlines()
    out = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = f"{prefix}{child.name}"
                top = min([child.lineno] + [d.lineno for d in child.decorator_list])
                marked = top >= 2 and lines[top - 2].strip().startswith(LONG_MARK)
                n = _code_lines(child)
                if n > MAX_FUNCTION_LINES and not marked:
                    out.append((qual, n))
                walk(child, qual + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")

    walk(ast.parse("\n".join(lines)), "")
    return out


@pytest.mark.parametrize("name", sorted(_modules()))
def test_functions_are_short(name):
    assert long_functions(_modules()[name]) == []
