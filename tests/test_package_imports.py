"""The package's import graph has no cycle, and the layers keep their directions.

Every module's imports are read with `ast` (module level and inside functions alike: a
lazy import is still a dependency), so the test needs no TensorFlow. Importing
`improved_gan_tf.a.b` also runs the package `improved_gan_tf.a`, so a module outside a
package that imports one of its modules depends on the package's `__init__` too.
"""

import ast
import pathlib

import pytest

PACKAGE = "improved_gan_tf"
ROOT = pathlib.Path(__file__).resolve().parents[1] / PACKAGE


def module_names() -> dict[str, pathlib.Path]:
    names = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imported_modules(name: str, path: pathlib.Path, modules) -> set[str]:
    """The package modules that `name` imports (resolving `from X import submodule`)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if not target or target == PACKAGE:
                continue
            found.add(target)
            # Parent packages run first, unless `name` is inside them (then they are
            # already being imported).
            parent = target.rpartition(".")[0]
            while parent and parent != PACKAGE:
                if not (name == parent or name.startswith(parent + ".")):
                    found.add(parent)
                parent = parent.rpartition(".")[0]
    found.discard(name)
    return found


@pytest.fixture(scope="module")
def graph():
    modules = module_names()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == "open":
                return stack[stack.index(child):] + [child]
            if child not in state:
                cycle = visit(child)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_package_has_no_import_cycle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_lazy_and_package_imports(graph):
    # `scoring` imports `training.checkpoints` inside `score_run`.
    assert "improved_gan_tf.training.checkpoints" in graph["improved_gan_tf.evaluation.scoring"]
    assert "improved_gan_tf.training" in graph["improved_gan_tf.evaluation.scoring"]
    assert "improved_gan_tf.training.trainer" in graph["improved_gan_tf.training"]


def test_training_never_imports_evaluation_and_report_imports_neither(graph):
    for name, imports in graph.items():
        if name.startswith(f"{PACKAGE}.training"):
            assert not any(m.startswith(f"{PACKAGE}.evaluation") for m in imports), name
    for name in (f"{PACKAGE}.report", f"{PACKAGE}.rundir"):
        assert graph[name] <= {f"{PACKAGE}.fileio", f"{PACKAGE}.rundir", f"{PACKAGE}.config",
                               f"{PACKAGE}.errors", f"{PACKAGE}.registry"}, graph[name]
