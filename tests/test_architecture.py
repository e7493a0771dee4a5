"""The import graph runs down the method (ARCHITECTURE.md): import-linter's layers contract in
pyproject.toml, checked on the code as it is, and shown to fail when a layer is out of order."""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter import cli

ROOT = Path(__file__).resolve().parent.parent


def _lint(config: Path) -> int:
    return cli.lint_imports(config_filename=str(config), no_cache=True, no_logo=True)


def test_no_import_runs_back_up_the_method(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert _lint(ROOT / "pyproject.toml") == 0, "an import runs back up the method: see the report above"


@pytest.mark.parametrize("upper, lower", [
    ("taxonomy.labelling", "taxonomy.review.arbitration"),  # arbitration builds on labels
    ("sampling.draws", "taxonomy.tree"),  # the tree knows the draws' blind rule
])
def test_the_contract_fails_when_an_arrow_runs_back_up(tmp_path, monkeypatch, upper, lower):
    """The same graph against layers in the wrong order is refused: the contract has teeth."""
    monkeypatch.chdir(ROOT)
    config = tmp_path / "reversed.ini"
    config.write_text(f"""[importlinter]
root_packages =
    annotator
    sampling
    taxonomy

[importlinter:contract:reversed]
name = {upper} above {lower}
type = layers
layers =
    {upper}
    {lower}
""")
    assert _lint(config) == 1


# Building a query is a selector's or a service's work: a page, an API, a form or a serializer
# calls them (a related manager's .all() on rows the selector prefetched is reading, not querying).
QUERY_BUILDERS = {"objects", "filter", "exclude", "annotate", "aggregate", "select_related", "prefetch_related",
                  "values_list", "raw", "extra", "select_for_update", "bulk_create", "update_or_create",
                  "get_or_create"}
THIN = ("views", "apis", "forms", "serializers")


def _thin_modules() -> list[Path]:
    return sorted(path for package in ("annotator", "sampling", "taxonomy") for path in (ROOT / package).rglob("*.py")
                  if "migrations" not in path.parts and path.stem.split("_")[-1] in THIN)


def _query_builders(path: Path, root: Path = ROOT) -> list[str]:
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in QUERY_BUILDERS:
            found.append(f"{path.relative_to(root)}:{node.lineno} .{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module == "django.db" and any(
                alias.name == "connection" for alias in node.names):
            found.append(f"{path.relative_to(root)}:{node.lineno} imports django.db.connection")
    return found


def test_views_apis_forms_and_serializers_build_no_query():
    modules = _thin_modules()
    assert len(modules) >= 30 and any(p.name == "similarity_views.py" for p in modules)
    found = [hit for path in modules for hit in _query_builders(path)]
    assert found == [], "a query built outside selectors and services:\n" + "\n".join(found)


def test_the_query_check_sees_a_query(tmp_path):
    view = tmp_path / "views.py"
    view.write_text("def page(request):\n    return Study.objects.filter(slug='x')\n")
    assert [hit.split(" ", 1)[1] for hit in _query_builders(view, tmp_path)] == [".filter", ".objects"]


def test_pages_and_apis_reach_a_study_one_way():
    """A page takes @study_view, an API StudyApiMixin.get_study_access: both call study_access
    (annotator/studies/access.py); none reads the study and checks the role itself."""
    direct = [f"{path.relative_to(ROOT)}" for path in _thin_modules()
              if path.stem.split("_")[-1] in ("views", "apis") and "study_get_for_user" in path.read_text()]
    assert direct == []
