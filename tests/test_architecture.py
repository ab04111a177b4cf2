"""The package's import graph, built from the source with ``ast``: acyclic, and no import from a
lower layer into a higher one. The layer order is written once, in docs/contracts.md ("Layers")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "rnn_timescales"
CONTRACTS = ROOT / "docs" / "contracts.md"


def layers() -> dict[str, int]:
    """Top-level module or package name -> its layer (0 lowest), from docs/contracts.md."""
    text = CONTRACTS.read_text(encoding="utf-8")
    block = re.search(r"<!-- layers:.*?-->\s*```text\n(.*?)```", text, re.S)
    assert block is not None, "docs/contracts.md has no layer list"
    order: dict[str, int] = {}
    for level, line in enumerate(block.group(1).strip().splitlines()):
        names = line.split("  ")[0].split()  # the names, before the description
        for name in names:
            order[name] = level
    return order


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that module ``name`` imports, anywhere in it (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            candidates = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in candidates:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
    return targets


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def layer_of(module: str, order: dict[str, int]) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # the package itself: its version and its façade
        return 0
    assert parts[1] in order, f"{module} is in no layer of docs/contracts.md; add it there"
    return order[parts[1]]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle():
    assert cycles(graph()) == []


# The package root's public names loaded on first use (``rnn_timescales.__getattr__``): a façade
# over the layers, imported by nothing inside the package.
FACADE = {"rnn_timescales": {"rnn_timescales.analysis.inference"}}


def test_no_module_imports_from_a_higher_layer():
    order = layers()
    upward = [f"{a} (layer {layer_of(a, order)}) imports {b} (layer {layer_of(b, order)})"
              for a, targets in sorted(graph().items()) for b in sorted(targets)
              if layer_of(b, order) > layer_of(a, order) and b not in FACADE.get(a, ())]
    assert upward == []


def test_every_top_level_module_has_a_layer():
    order = layers()
    tops = {name.split(".")[1] for name in modules() if "." in name}
    assert sorted(tops - set(order)) == []


# The registries' own entry-point loading: each imports the modules of its package by name (a
# new measure or study is a file there). Nowhere else may a module be imported by a string.
DYNAMIC_IMPORTS = {"rnn_timescales/studies/measures/__init__.py", "rnn_timescales/studies/registry.py"}
MAX_LINES = 500
# over the limit until the issue that splits it lands (#35 splits analysis/inference.py)
LONG_UNTIL_SPLIT: set[str] = set()  # modules allowed over the limit while they are being split (none now)


def dynamic_imports(path: Path) -> list[str]:
    """``importlib`` / ``__import__`` uses in a module: imports the graph above cannot see."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "importlib" for a in node.names):
            found.append(f"line {node.lineno}: import importlib")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "importlib" and any(
                a.name not in ("resources", "metadata") for a in node.names):
            found.append(f"line {node.lineno}: from importlib import ...")
        elif isinstance(node, ast.Name) and node.id == "__import__":
            found.append(f"line {node.lineno}: __import__")
    return found


def test_no_module_is_imported_by_a_string_outside_the_registries():
    flagged = {str(p.relative_to(PACKAGE.parent)): found for p in PACKAGE.rglob("*.py")
               if (found := dynamic_imports(p)) and str(p.relative_to(PACKAGE.parent)) not in DYNAMIC_IMPORTS}
    assert flagged == {}


def test_the_detector_flags_importlib_and_dunder_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import importlib\nm = __import__('os')\nfrom importlib import import_module\n")
    assert len(dynamic_imports(bad)) == 3
    good = tmp_path / "good.py"
    good.write_text("from importlib import resources\nimport os\n")
    assert dynamic_imports(good) == []


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert sorted(set(long) - LONG_UNTIL_SPLIT) == [], long


def test_nothing_hooks_the_import_system():
    for p in PACKAGE.rglob("*.py"):
        assert "meta_path" not in p.read_text(encoding="utf-8"), p


def test_the_detector_finds_a_cycle_and_an_upward_import():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    order = {"low": 0, "high": 1}
    assert layer_of("rnn_timescales.high.x", order) > layer_of("rnn_timescales.low", order)
