"""The domain never reads the request: no module under services/ or models/ imports flask's request globals.

Who acts (a user, an API token) and whether a request may write reach the domain as arguments, from the
views and app.py. ``flask.current_app`` stays allowed: the services read their configuration from it (upload
folders, limits, keys), which is the application's, not the request's. Read from the source's syntax tree,
so that an import is caught however it is spelt (``from flask import g``, ``import flask`` then
``flask.request``, ``from flask.globals import session``), and a word in a comment or a string is not.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("services", "models")
REQUEST_GLOBALS = frozenset({"request", "g", "session", "has_request_context"})
FLASK_MODULES = ("flask", "flask.globals", "flask.ctx")


def domain_files() -> list[Path]:
    return sorted(path for package in DOMAIN for path in (ROOT / package).rglob("*.py"))


def request_globals_used(source: str) -> list[str]:
    """``line: what`` for every import of a request global from flask, and every ``flask.<global>`` read
    through an imported flask module."""
    found = []
    flask_names = set()  # names the module binds to flask or its submodules
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in FLASK_MODULES:
            found += [f"{node.lineno}: from {node.module} import {alias.name}"
                      for alias in node.names if alias.name in REQUEST_GLOBALS or alias.name == "*"]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in FLASK_MODULES:
                    flask_names.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and node.attr in REQUEST_GLOBALS
                and _dotted(node.value) in flask_names | set(FLASK_MODULES)):
            found.append(f"{node.lineno}: {_dotted(node.value)}.{node.attr}")
    return found


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        parent = _dotted(node.value)
        return f"{parent}.{node.attr}" if parent else None
    return None


def test_the_domain_has_modules_to_check():
    names = {path.relative_to(ROOT).as_posix() for path in domain_files()}
    assert {"services/audit.py", "services/infra/locking.py", "services/infra/transaction.py",
            "models/__init__.py"} <= names


@pytest.mark.parametrize("path", domain_files(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_domain_module_imports_flask_request_globals(path):
    assert request_globals_used(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(("source", "found"), [
    ("from flask import current_app, request\n", ["1: from flask import request"]),
    ("from flask import g as context\n", ["1: from flask import g"]),
    ("from flask.globals import session\n", ["1: from flask.globals import session"]),
    ("from flask import *\n", ["1: from flask import *"]),
    ("import flask\n\ndef f():\n    return flask.request.path\n", ["4: flask.request"]),
    ("import flask as web\nif web.has_request_context():\n    pass\n", ["2: web.has_request_context"]),
    ("from flask import current_app\nrequest = None  # not flask's request\n", []),
    ('"""Never reads flask.request or g."""\n', []),
])
def test_the_check_sees_every_spelling_of_the_import(source, found):
    assert request_globals_used(source) == found


# --- the README's map of the tree ---------------------------------------------------------------------------------

def _readme_layout() -> dict[str, str]:
    """The README's layout block: each entry's path (``services/queries/``, ``app.py``) and its description."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    entries: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        if line and not line.startswith(" "):
            name, _, description = line.partition(" ")
            entries[name] = description.strip()
        elif line.strip() and name:  # a description carried on to the next line
            entries[name] += " " + line.strip()
    return entries


def _kept_packages() -> set[str]:
    """Every directory of code the repository keeps: the top-level folders and services' sub-packages."""
    top = {f"{p.name}/" for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
           and p.name not in {"artifacts", "instance", "docs", "static", "node_modules"}}
    inner = {f"services/{p.name}/" for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()}
    return top | inner


def test_every_path_the_readme_maps_exists():
    missing = [name for name in _readme_layout() if not (ROOT / name).exists()]
    assert missing == []


def test_every_package_of_the_tree_is_on_the_readmes_map():
    assert _kept_packages() - set(_readme_layout()) == set()


def test_the_readme_names_every_module_of_services_sub_packages():
    """A sub-package's entry lists its modules, so that a move shows on the map or fails here."""
    layout = _readme_layout()
    for package in ("services/queries/", "services/infra/"):
        modules = {p.stem for p in (ROOT / package).glob("*.py") if p.stem != "__init__"}
        assert {m for m in modules if m not in layout[package]} == set(), package


# --- every first-party import resolves, in the scripts no test imports too (bench/) ----------------------------------

FIRST_PARTY = ("app", "blueprints", "cli", "config", "extensions", "models", "seeding", "services", "bench", "tests")


def _first_party_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) for every import of the project's own code in ``path``; name None for ``import m``."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in FIRST_PARTY:
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names
                      if alias.name.split(".")[0] in FIRST_PARTY]
    return found


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT) for folder in ("bench", "seeding", "services")
                                        for p in (ROOT / folder).rglob("*.py")), ids=str)
def test_every_first_party_import_names_something_that_exists(path):
    """A module moved without its importers being rewritten fails here, even in a script only `make bench` runs."""
    import importlib

    missing = []
    for line, module, name in _first_party_imports(ROOT / path):
        target = importlib.import_module(module)
        if name is not None and not hasattr(target, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ModuleNotFoundError:
                missing.append(f"{line}: from {module} import {name}")
    assert missing == []
