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
