"""The code's shape: no import cycles among the project's modules, and each layer imports only those below it
(docs/architecture.md). Read from the source with ``ast``, so nothing is imported and nothing can hide."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each top-level folder and the name it installs under (caigou/models etc. are links to the folders: setup in
# docs/architecture.md).
FOLDERS = {"models": "caigou.models", "pipelines": "caigou.pipelines", "crawler": "caigou.crawler", "caigou": "caigou"}
LINKED = {"models", "pipelines", "crawler", "migrations"}
# What each layer may import (docs/architecture.md, "Layers").
MAY_IMPORT = {"models": {"models"}, "pipelines": {"models", "pipelines"},
              "crawler": {"models", "pipelines", "crawler"}, "caigou": set(FOLDERS)}


def _module_name(path: Path) -> str:
    folder, *parts = path.relative_to(ROOT).with_suffix("").parts
    parts = [*FOLDERS[folder].split("."), *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(name: str) -> str:
    """caigou.models.db → models; caigou.search → caigou."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LINKED else "caigou"


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for folder in FOLDERS for path in (ROOT / folder).rglob("*.py")
            if not (folder == "caigou" and path.relative_to(ROOT / "caigou").parts[0] in LINKED)}


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
    assert "caigou.pipelines.catch_up" in graph["caigou.context"]   # imported inside AppContext.db
    assert "caigou.crawler.items" in graph["caigou.crawler.spiders.ccgp"]


def test_no_import_cycles() -> None:
    assert _cycles(_parents_excluded(_graph())) == []


def test_layers_import_only_downwards() -> None:
    wrong = sorted(f"{name} imports {target}" for name, targets in _graph().items() for target in targets
                   if _layer(target) not in MAY_IMPORT[_layer(name)])
    assert wrong == []


def test_pipelines_hold_no_framework_code() -> None:
    graph = _graph()
    framework = ("scrapy", "twisted", "click", "fastapi")
    wrong = []
    for name, path in _modules().items():
        if _layer(name) == "pipelines":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                           else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                wrong += [f"{name} imports {m}" for m in modules if m.split(".")[0] in framework]
    assert graph and wrong == []


def test_the_folders_are_imported_only_by_their_installed_names() -> None:
    """``models`` and ``caigou.models`` would be two copies of one module (two table registries): code, tests and
    bench scripts import the installed names only."""
    wrong = []
    for path in [*_modules().values(), *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").glob("*.py"),
                 *(ROOT / "alembic").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            wrong += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] in LINKED]
    assert wrong == []


def test_every_command_is_found_in_its_own_module() -> None:
    """``caigou <command>`` imports only the module ALONE names for it (caigou/cli.py): a name pointing at the
    wrong module would make the command unknown, and a command left out would load every module again."""
    import importlib

    from caigou.cli import ALONE

    found = {command.name: module.rsplit(".", 1)[-1]
             for module in (f"caigou.commands.{name}" for name in set(ALONE.values()))
             for command in importlib.import_module(module).COMMANDS}
    registered = {path.stem for path in (ROOT / "caigou" / "commands").glob("*.py")} - {"__init__"}
    declared = {command.name for name in registered
                for command in getattr(importlib.import_module(f"caigou.commands.{name}"), "COMMANDS", [])}
    assert found == ALONE
    assert declared == set(ALONE), f"commands missing from ALONE: {sorted(declared - set(ALONE))}"
