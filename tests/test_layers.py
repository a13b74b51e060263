"""Every import of the product points one way, and no module imports itself back.

The packages stand in layers (docs/architecture.md): ledger reading (`importers`) and the engine
layer (`engine`) at the bottom, side by side and unaware of each other; the rule books
(`rules`) on them; evaluation, storage and the audit chain (`evaluator`) above; the reports
(`reports`) above those; the faces (`xietong`: the library API, the command line, the desk) on
top. A module may import its own package and the layers below it, never a layer above or a
sibling, and no chain of imports may come back to where it started. Imports inside functions
count: a late import is still an arrow.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"importers": 0, "engine": 0, "rules": 1, "evaluator": 2, "reports": 3, "xietong": 4}


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path, packages) -> dict[str, set[str]]:
    """module -> the product's modules it imports (anywhere in its body)."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            modules[module_name(root, path)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:                       # relative: from the module's own package
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[:len(here) - (node.level - 1)]
                    base = ".".join(here + ([base] if base else []))
                # `from pkg import mod` names a module when one exists by that name
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:     # a name inside a module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def arrows_up(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        mine = module.split(".")[0]
        for target in sorted(targets):
            theirs = target.split(".")[0]
            if theirs != mine and not LAYERS[theirs] < LAYERS[mine]:
                bad.append(f"{module} imports {target}: {theirs} (layer {LAYERS[theirs]}) is not "
                           f"below {mine} (layer {LAYERS[mine]})")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_arrow_points_down():
    graph = imports_of(ROOT, LAYERS)
    assert len(graph) > 40            # the walk found the product (not an empty tree)
    assert arrows_up(graph) == []


def test_no_module_cycle():
    assert cycles(imports_of(ROOT, LAYERS)) == []


def test_the_checks_see_an_upward_arrow_a_sibling_and_a_cycle(tmp_path):
    """The two tests above can fail: a made-up tree with each fault is caught."""
    files = {
        "importers/__init__.py": "",
        "importers/read.py": "from reports import statement\n",       # up three layers
        "engine/__init__.py": "def f():\n    import importers.read\n",  # a sibling, late
        "rules/__init__.py": "",
        "rules/a.py": "from . import b\n",                               # a cycle a -> b -> a
        "rules/b.py": "from rules.a import x\n",
        "evaluator/__init__.py": "", "xietong/__init__.py": "",
        "reports/__init__.py": "", "reports/statement.py": "import rules.a\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, "utf-8")
    graph = imports_of(tmp_path, LAYERS)
    assert sorted(arrows_up(graph)) == [
        "engine imports importers.read: importers (layer 0) is not below engine (layer 0)",
        "importers.read imports reports.statement: reports (layer 3) is not below importers "
        "(layer 0)"]
    assert cycles(graph) == [["rules.a", "rules.b"]]
