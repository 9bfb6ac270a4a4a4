"""The layout's rules, read from the source with `ast`: imports point downstream (ui -> qa -> index),
no import cycles between modules, and no module takes another module's private names.

Every import counts, also those inside functions: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Each package may import those of lower rank and itself, never one of higher rank.
LAYERS = {"index": 0, "qa": 1, "ui": 2}


@dataclass(frozen=True)
class Import:
    """One import of a project module: where it is, what it imports, and the names it takes."""

    source: str  # the importing module, e.g. "qa.bot"
    line: int
    target: str  # the imported project module, e.g. "index.store"
    names: tuple[str, ...] = ()  # names taken with `from target import ...`


def module_name(path: Path, root: Path) -> str:
    """`index/store/__init__.py` -> `index.store`; `qa/bot.py` -> `qa.bot`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of the given top-level packages, by dotted name."""
    return {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
        if "data" not in path.relative_to(root).parts
    }


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module named by a (possibly relative) `from ... import`."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """The project modules that `module` imports, anywhere in its file."""
    tops = {name.split(".")[0] for name in modules}
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in tops:
                    yield Import(module, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, path.name == "__init__.py", node)
            if target.split(".")[0] not in tops:
                continue
            names = tuple(alias.name for alias in node.names)
            submodules = [n for n in names if f"{target}.{n}" in modules]
            for name in submodules:  # `from index import settings` imports the module index.settings
                yield Import(module, node.lineno, f"{target}.{name}")
            rest = tuple(n for n in names if n not in submodules)
            if rest or not submodules:
                yield Import(module, node.lineno, target, rest)


def private_uses(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """`x._name` reads where `x` is another project module (bound by `import` or `from pkg import x`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bound: dict[str, str] = {}  # local name -> module or package it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in {m.split(".")[0] for m in modules}:
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, path.name == "__init__.py", node)
            for alias in node.names:
                if f"{target}.{alias.name}" in modules:
                    bound[alias.asname or alias.name] = f"{target}.{alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _is_private(node.attr):
            continue
        head, _, rest = (_dotted(node.value) or "").partition(".")
        owner = ".".join(filter(None, [bound.get(head, ""), rest])) if head in bound else ""
        if owner in modules and owner != module:
            yield f"{module}:{node.lineno} reads {owner}.{node.attr}"


def _dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of names, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def graph(modules: dict[str, Path]) -> dict[str, list[Import]]:
    return {name: list(imports_of(name, path, modules)) for name, path in modules.items()}


def cycles(edges: dict[str, list[Import]]) -> list[list[str]]:
    """The import cycles between modules, each as the list of modules around it (Tarjan's SCCs)."""
    targets = {
        m: sorted({i.target for i in imps if i.target in edges and i.target != m})
        for m, imps in edges.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in targets[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(targets):
        if node not in index:
            visit(node)
    return found


def upstream_imports(edges: dict[str, list[Import]]) -> list[str]:
    """Imports that point against ui -> qa -> index."""
    return [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imps in edges.values()
        for imp in imps
        if LAYERS[imp.target.split(".")[0]] > LAYERS[imp.source.split(".")[0]]
    ]


def private_imports(edges: dict[str, list[Import]], modules: dict[str, Path]) -> list[str]:
    """`from x import _name` of another module's private names, and `x._name` reads."""
    taken = [
        f"{imp.source}:{imp.line} takes {imp.target}.{name}"
        for imps in edges.values()
        for imp in imps
        for name in (*imp.names, imp.target.rsplit(".", 1)[-1])
        if imp.target != imp.source and _is_private(name)
    ]
    read = [use for name, path in modules.items() for use in private_uses(name, path, modules)]
    return taken + read


@pytest.fixture(scope="module")
def project() -> tuple[dict[str, Path], dict[str, list[Import]]]:
    modules = project_modules(REPO, tuple(LAYERS))
    assert {"index", "qa", "ui", "qa.bot", "ui.app"} <= set(modules)
    return modules, graph(modules)


def test_no_import_cycles(project):
    _, edges = project
    found = cycles(edges)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(cycle) for cycle in found)


def test_imports_point_downstream_only(project):
    _, edges = project
    found = upstream_imports(edges)
    assert not found, "imports against ui -> qa -> index:\n" + "\n".join(found)


def test_no_module_takes_another_modules_private_names(project):
    modules, edges = project
    found = private_imports(edges, modules)
    assert not found, "private names of another module:\n" + "\n".join(found)


def test_every_error_class_of_the_project_is_a_wenda_error(project):
    from index.errors import WendaError

    modules, _ = project
    errors = {
        f"{name}.{obj.__name__}": obj
        for name in modules
        for obj in vars(importlib.import_module(name)).values()
        if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == name
    }
    expected = {"index.errors.CorpusError", "qa.question.QuestionError", "ui.service.NotReadyError"}
    assert expected <= errors.keys()
    assert [name for name, error in errors.items() if not issubclass(error, WendaError)] == []


# The checks themselves, on a small made-up project that breaks each rule once.
FAKE = {
    "index/__init__.py": "",
    "index/a.py": "from index.b import helper\n",
    "index/b.py": "def helper(): ...\ndef later():\n    from index import a\n",
    "index/c.py": "from index.b import _secret\nimport index.b\nindex.b._other()\n",
    "index/d.py": "from .b import helper\nfrom . import a\n",
    "index/e.py": "def f():\n    from qa.bot import ask\n",
    "qa/__init__.py": "",
    "qa/bot.py": "import index.a\nfrom index import d\n",
}


@pytest.fixture
def fake(tmp_path: Path) -> tuple[dict[str, Path], dict[str, list[Import]]]:
    for name, text in FAKE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    modules = project_modules(tmp_path, ("index", "qa"))
    return modules, graph(modules)


def test_the_checks_find_a_cycle_through_a_function_level_import(fake):
    _, edges = fake
    assert cycles(edges) == [["index.a", "index.b"]]


def test_the_checks_find_an_upstream_import(fake):
    _, edges = fake
    assert upstream_imports(edges) == ["index.e:2 imports qa.bot"]


def test_the_checks_find_private_names_taken_or_read(fake):
    modules, edges = fake
    assert private_imports(edges, modules) == [
        "index.c:1 takes index.b._secret",
        "index.c:3 reads index.b._other",
    ]


def test_relative_imports_and_submodules_resolve(fake):
    _, edges = fake
    assert {(i.target, i.names) for i in edges["index.d"]} == {("index.b", ("helper",)), ("index.a", ())}
    assert {i.target for i in edges["qa.bot"]} == {"index.a", "index.d"}
