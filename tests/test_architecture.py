"""The layout is the architecture: imports run app -> api, web -> ops -> the domain packages
(clinic -> inventory -> formulary -> core), never back; the JSON API and the pages never import
each other; every table is registered in one place; a domain operation's parameters past the
second are passed by keyword."""

import ast
from pathlib import Path

import pytest

from app.models import MODEL_MODULES
from core.database import db

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("core", "formulary", "inventory", "clinic")
BOUNDARIES = ("app", "api", "web", "ops")
# What each package may import of the project's own packages.
ALLOWED = {
    "core": {"core"},
    "formulary": {"core", "formulary"},
    "inventory": {"core", "formulary", "inventory"},
    "clinic": {"core", "formulary", "inventory", "clinic"},
    "ops": {*DOMAIN, "ops"},
    "api": {*DOMAIN, "ops", "api"},
    "web": {*DOMAIN, "ops", "web"},
}
OWN = {*DOMAIN, *BOUNDARIES, "config"}
# A domain operation's parameters past the second are keyword-only: calls say what they pass.
MAX_POSITIONAL = 2


def imported_packages(path: Path) -> set[str]:
    """The project's top-level packages a module imports (at any depth in the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OWN


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package):
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - ALLOWED[package] - {"config"})
        for path in modules_of(package)
    }
    assert {module: names for module, names in wrong.items() if names} == {}


def test_the_json_api_and_the_pages_never_import_each_other():
    api_to_web = [p for p in modules_of("api") if "web" in imported_packages(p)]
    web_to_api = [p for p in modules_of("web") if "api" in imported_packages(p)]
    assert (api_to_web, web_to_api) == ([], [])


def test_the_import_rule_catches_an_upward_import(tmp_path):
    upward = tmp_path / "rule.py"
    upward.write_text("from api.auth import roles_required\nimport web.pages\n")
    assert imported_packages(upward) == {"api", "web"}


def test_every_table_is_defined_in_a_registered_model_module():
    registered = {module.__name__ for module in MODEL_MODULES}
    defined_in = {mapper.class_.__module__ for mapper in db.Model.registry.mappers}
    assert defined_in - registered == set()


def public_functions_with_many_positional_parameters(path: Path) -> list[str]:
    """Module-level public functions taking more than two positional parameters."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("_")
        and len(node.args.posonlyargs) + len(node.args.args) > MAX_POSITIONAL
    ]


def test_a_domain_operation_takes_anything_past_two_parameters_by_keyword():
    wide = {
        str(path.relative_to(ROOT)): names
        for package in DOMAIN
        for path in modules_of(package)
        if (names := public_functions_with_many_positional_parameters(path))
    }
    assert wide == {}


def test_the_signature_rule_catches_a_wide_signature(tmp_path):
    wide = tmp_path / "wide.py"
    wide.write_text("def receive(a, b, c):\n    pass\n\ndef fine(a, b, *, c):\n    pass\n")
    assert public_functions_with_many_positional_parameters(wide) == ["receive"]
