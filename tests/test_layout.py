"""The code's shape: no import cycles among the project's modules, and each layer imports only those below it
(docs/architecture.md). Read from the source with ``ast``, so nothing is imported and nothing can hide."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "pipelines", "crawler", "caigou")
# What each layer may import (docs/architecture.md, "Layers").
MAY_IMPORT = {"models": {"models"}, "pipelines": {"models", "pipelines"},
              "crawler": {"models", "pipelines", "crawler"}, "caigou": set(PACKAGES)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules ``name`` imports, anywhere in it (a function-level import closes a cycle as surely
    at run time), except under ``if TYPE_CHECKING:``, which never runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from package import module`` imports the module; ``from module import name`` the module itself.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import a.b.c`` of a name inside a module: its module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _parents_excluded(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ importing its own submodules (and they, being inside it, importing it first) is how
    # Python packages work, not a cycle between concepts: keep only edges that do not go up to an enclosing package.
    return {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}


def test_the_finder_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_function_level_imports() -> None:
    graph = _graph()
    assert "pipelines.catch_up" in graph["caigou.context"]   # imported inside AppContext.db
    assert "crawler.items" in graph["crawler.spiders.ccgp"]


def test_no_import_cycles() -> None:
    assert _cycles(_parents_excluded(_graph())) == []


def test_layers_import_only_downwards() -> None:
    wrong = sorted(f"{name} imports {target}" for name, targets in _graph().items() for target in targets
                   if target.split(".")[0] not in MAY_IMPORT[name.split(".")[0]])
    assert wrong == []


def test_pipelines_hold_no_framework_code() -> None:
    graph = _graph()
    framework = ("scrapy", "twisted", "click", "fastapi")
    wrong = []
    for name, path in _modules().items():
        if name.startswith("pipelines"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                           else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                wrong += [f"{name} imports {m}" for m in modules if m.split(".")[0] in framework]
    assert graph and wrong == []
