"""The package's layers (docs/ARCHITECTURE.md) hold: what may import what, and no import circle.

The imports are read from the source with `ast` (module level and inside functions alike), so a
lazy import inside a function counts as much as one at the top of a file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hummuss_pl"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:` (imports for annotations only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        yield node
        yield from runtime_nodes(node)


def imports_of(path: Path) -> set[str]:
    """The hummuss_pl modules `path` imports when it runs (relative imports resolved; `from x import y`
    counts as x.y when x.y is a module, else x)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found |= {f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target for alias in node.names}
    return {m for m in found if m == "hummuss_pl" or m.startswith("hummuss_pl.")}


MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}
GRAPH = {module_name(p): imports_of(p) - {module_name(p)} for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_was_read():
    assert "hummuss_pl.models.hummuss" in GRAPH["hummuss_pl.models.backbones"]
    assert "hummuss_pl.data.registry" in GRAPH["hummuss_pl.data.check"]


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer(m) == "models"))
def test_models_import_only_models_skeleton_and_batch(module):
    outside = {m for m in GRAPH[module] if layer(m) not in ("models", "skeleton", "batch")}
    assert not outside, f"{module} imports {sorted(outside)}"


@pytest.mark.parametrize("module", ["hummuss_pl.skeleton", "hummuss_pl.batch"])
def test_the_shared_conventions_import_nothing_of_the_package(module):
    assert not GRAPH[module], f"{module} imports {sorted(GRAPH[module])}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer(m) == "data"))
def test_data_never_imports_tasks_or_the_cli(module):
    above = {m for m in GRAPH[module] if layer(m) in ("tasks", "cli", "stream", "callbacks", "bench")}
    assert not above, f"{module} imports {sorted(above)}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer(m) == "tasks"))
def test_tasks_never_import_a_data_module(module):
    data = {m for m in GRAPH[module] if layer(m) == "data"}
    assert not data, f"{module} imports {sorted(data)}: what a task needs from the data travels in the batch"


def test_tasks_never_read_configuration_back_through_the_trainer():
    for path in (PACKAGE / "tasks").glob("*.py"):
        assert ".datamodule" not in path.read_text(), f"{path.name} reads trainer.datamodule"


def test_no_import_circle():
    """Depth-first search over module imports; a package's __init__ re-exporting its children is not
    a circle by itself (it imports them, they do not import it back)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(GRAPH.get(module, ())):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
