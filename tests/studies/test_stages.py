"""The stage registry: each app registers its own stage, the studies app imports none of them
(dependencies run down the method), and the stages come back in the method's order."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from annotator.studies import stages

STUDIES = Path(stages.__file__).resolve().parent
DOMAIN = ("annotator.corpus", "sampling.question_sets", "taxonomy.review.agreement", "annotator.jobs", "annotator.demo",
          "sampling", "taxonomy")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_studies_app_imports_no_step_of_the_method():
    offending = {f"{path.relative_to(STUDIES)}: {name}" for path in STUDIES.rglob("*.py")
                 if "migrations" not in path.parts for name in _imports(path)
                 if any(name == d or name.startswith(d + ".") for d in DOMAIN)}
    assert not offending, offending


def test_every_step_registers_its_stage_in_the_methods_order():
    registered = [(order, provider.__module__) for order, provider in sorted(stages._providers.items())]
    assert registered == [
        (stages.CORPUS, "annotator.corpus.stage"), (stages.QUESTION_SETS, "sampling.question_sets.stage"),
        (stages.DRAW, "sampling.draws.stage"), (stages.PILOT, "taxonomy.coding.stage"),
        (stages.LABELLING, "taxonomy.labelling.stage"), (stages.AGREEMENT, "taxonomy.review.agreement.stage"),
        (stages.ARBITRATION, "taxonomy.review.arbitration.stage"), (stages.RESULTS, "taxonomy.results.stage"),
        (stages.CLASSIFIER, "taxonomy.classifier.stage")]


def test_a_position_takes_one_stage():
    provider = stages._providers[stages.CORPUS]
    stages.stage_register(stages.CORPUS, provider)  # ready() run twice: the same provider again is fine
    with pytest.raises(RuntimeError):
        stages.stage_register(stages.CORPUS, lambda context: None)


def test_now_is_the_first_stage_in_progress_else_the_one_after_the_last_done_passing_optional_ones():
    from annotator.studies.stages import Stage, State, stage_now

    def stages(*states, optional_last=False):
        out = [Stage(key=f"s{i}", title=f"S{i}", state=state) for i, state in enumerate(states)]
        out[-1].optional = optional_last
        return out

    assert stage_now([]) is None
    assert stage_now(stages(State.NOT_STARTED, State.NOT_STARTED)).key == "s0"
    assert stage_now(stages(State.DONE, State.IN_PROGRESS, State.NOT_STARTED)).key == "s1"
    assert stage_now(stages(State.DONE, State.BLOCKED, State.NOT_STARTED)).key == "s1"
    assert stage_now(stages(State.DONE, State.DONE)).key == "s1"
    # an optional last step not begun is not where the study stands: the results are
    assert stage_now(stages(State.DONE, State.DONE, State.NOT_STARTED, optional_last=True)).key == "s1"
    assert stage_now(stages(State.DONE, State.DONE, State.BLOCKED, optional_last=True)).key == "s1"
    # begun, it is
    assert stage_now(stages(State.DONE, State.DONE, State.IN_PROGRESS, optional_last=True)).key == "s2"
    assert stage_now(stages(State.DONE, State.DONE, State.DONE, optional_last=True)).key == "s2"
