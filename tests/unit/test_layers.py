"""The layout rule, checked on the code's own imports: arrows only go down.

    dags/ -> brandpulse.tasks (application: tasks, CLI, airflow env, dev tools)
          -> brandpulse.pipeline, brandpulse.analyst, brandpulse.kibana
          -> domain packages: listeners, nlp, indexing, alerts (never each other)
          -> brandpulse.core (foundation: imports none of the above)

Every import counts, including those inside functions (a function-level import
is still an arrow), and the module graph has no cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOMAIN = ("listeners", "nlp", "indexing", "alerts")
PACKAGES = ("brandpulse", *DOMAIN)


def layer(module: str) -> tuple[int, str]:
    """(rank, group): an import may go to a lower rank, or stay in its group."""
    top = module.split(".")[0]
    if module.startswith("brandpulse.core"):
        return 0, "core"
    if top in DOMAIN:
        return 1, top
    for sub in ("pipeline", "analyst", "kibana"):
        if module.startswith(f"brandpulse.{sub}"):
            return 2, sub
    if top == "dags":
        return 4, "dags"
    return 3, "application"  # brandpulse.tasks, .cli, .dev, .airflow_env


def modules() -> dict[str, Path]:
    found = {}
    for package in (*PACKAGES, "dags"):
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """Project modules imported anywhere in the file (resolved to known modules)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import module` is an arrow to the module, `from pkg import name` to pkg
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                for a in node.names
            ]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in (*PACKAGES, "dags"):
                out.add(name)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(path, known) - {name} for name, path in found.items()}


def test_arrows_only_go_down(graph):
    wrong = []
    for source, targets in graph.items():
        rank, group = layer(source)
        for target in targets:
            t_rank, t_group = layer(target)
            if not (t_rank < rank or t_group == group):
                wrong.append(f"{source} -> {target}")
    assert not wrong, "imports that run up or sideways:\n" + "\n".join(sorted(wrong))


def test_dags_only_call_the_task_functions(graph):
    for dag, targets in graph.items():
        if dag.startswith("dags"):
            assert targets <= {"brandpulse.tasks"}, f"{dag} imports {targets - {'brandpulse.tasks'}}"


def test_the_foundation_imports_nothing_above_it(graph):
    for source, targets in graph.items():
        if source.startswith("brandpulse.core"):
            assert all(t.startswith("brandpulse.core") for t in targets), f"{source} -> {targets}"


def test_no_import_cycles(graph):
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"
