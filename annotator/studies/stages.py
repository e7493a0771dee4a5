"""The study home's picture of the method: one stage per step, in the method's order.

The studies app knows no step of the method (dependencies run down it: corpus →
question sets → draws → pilot → labelling → agreement → arbitration → results).
Each app describes its own stage from a ``stage.py`` of its own and registers it
in its ``AppConfig.ready`` with ``stage_register(order, provider)``, as apps
register their job kinds (``annotator.jobs.registry``). The home page asks
``stages_for(access)`` and shows what comes back.

A provider is ``provider(context) -> Stage``. It reads with aggregate queries (a
bounded number, however many items the study holds) and counts raters' work only
through the blindness rule (``taxonomy.labelling.visibility``). ``context.memo``
lets later stages reuse what an earlier one read (the draws, the user's sight).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .selectors import StudyAccess


class State:
    NOT_STARTED = "not-started"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    BLOCKED = "blocked"

    LABELS = {NOT_STARTED: "Not started", IN_PROGRESS: "In progress", DONE: "Done", BLOCKED: "Blocked"}


@dataclass(frozen=True)
class Action:
    """A next step the viewer can take: a link to the page where it is taken (``primary``: shown as a button)."""

    label: str
    url: str
    primary: bool = True


@dataclass(frozen=True)
class JobLink:
    """A background job of the stage, linked to the page that shows it."""

    title: str
    status: str  # a JobStatus value
    status_display: str
    url: str
    when: Any = None  # its creation time
    percent: int | None = None  # how far a running job is


@dataclass
class Stage:
    key: str  # "corpus", "labelling", ...
    title: str
    state: str = State.NOT_STARTED
    numbers: list[str] = field(default_factory=list)  # short facts: "412 / 538 labelled", "rater2 behind"
    blocker: str = ""  # what stands in the way, when state is BLOCKED (or a warning otherwise)
    actions: list[Action] = field(default_factory=list)  # the viewer's next steps, by role
    jobs: list[JobLink] = field(default_factory=list)  # its latest jobs
    jobs_url: str = ""  # the page listing all of them
    url: str = ""  # the stage's own page
    step: int = 0  # its place in the method, from 1 (set by stages_for)
    optional: bool = False  # a step the method can do without (the classifier): never "now" until begun

    @property
    def state_label(self) -> str:
        return State.LABELS[self.state]

    @property
    def running(self) -> bool:
        """A job of the stage is queued or running: the page polls the stage until it ends."""
        return any(job.status in ("queued", "running") for job in self.jobs)


@dataclass
class StageContext:
    """What every provider gets: the viewer's access to the study, and a memo shared by the stages
    of one page (``memo(key, read)`` reads once and hands the same value to every later caller)."""

    access: StudyAccess
    user: Any
    _memo: dict[str, Any] = field(default_factory=dict)

    @property
    def study(self):
        return self.access.study

    @property
    def membership(self):
        return self.access.membership

    def memo(self, key: str, read: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]


StageProvider = Callable[[StageContext], Stage]

_providers: dict[int, StageProvider] = {}


def stage_register(order: int, provider: StageProvider) -> None:
    """Show ``provider``'s stage on the study home at position ``order`` (its step in the method)."""
    if _providers.get(order, provider) is not provider:
        raise RuntimeError(f"A stage is registered at position {order} already.")
    _providers[order] = provider


def stages_for(access: StudyAccess, user) -> list[Stage]:
    """Every registered stage as ``user`` (``access``'s member) sees it, in the method's order."""
    context = StageContext(access=access, user=user)
    out = []
    for step, order in enumerate(sorted(_providers), start=1):
        stage = _providers[order](context)
        stage.step = step
        out.append(stage)
    return out


def stage_now(stages: list[Stage]) -> Stage | None:
    """Where the study stands: the first stage in progress; else the one after the last done,
    passing over optional stages not begun (the last done when nothing else is left, the first
    when none is done)."""
    if not stages:
        return None
    working = next((stage for stage in stages if stage.state == State.IN_PROGRESS), None)
    if working is not None:
        return working
    done = [i for i, stage in enumerate(stages) if stage.state == State.DONE]
    if not done:
        return stages[0]
    after = [stage for stage in stages[done[-1] + 1:]
             if not (stage.optional and stage.state in (State.NOT_STARTED, State.BLOCKED))]
    return after[0] if after else stages[done[-1]]


# The positions of the method's steps (each app's stage registers at its own).
CORPUS, QUESTION_SETS, DRAW, PILOT, LABELLING, AGREEMENT, ARBITRATION, RESULTS, CLASSIFIER = (
    10, 20, 30, 40, 50, 60, 70, 80, 90)


def job_links(jobs, *, title: Callable[[Any], str], url: Callable[[Any], str]) -> list[JobLink]:
    """``JobLink``s of jobs rows (any object with ``status``, ``get_status_display`` and ``created_at``)."""
    return [JobLink(title=title(job), status=job.status, status_display=job.get_status_display(), url=url(job),
                    when=job.created_at, percent=getattr(job, "percent", None)) for job in jobs]


def count_text(n: int, singular: str, plural: str | None = None) -> str:
    """ "1 question", "1,204 questions"."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"
