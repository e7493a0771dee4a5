"""Which app runs each job kind, and what it releases when a job of that kind ends.

Each app registers its kinds in its ``AppConfig.ready`` (``job_handler_register``),
so the jobs app imports no domain and a new kind is one call in its own app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class JobKindHandlers:
    run: Callable[..., object]
    ended: Callable[..., object] | None


_kinds: dict[str, JobKindHandlers] = {}


def job_handler_register(kind: str, handler: Callable[..., object], *,
                         ended: Callable[..., object] | None = None) -> None:
    """``handler(job=job)`` runs jobs of ``kind`` (one handler per kind).

    ``ended(job=job)``, if given, is called once when a job of ``kind`` ends, however
    it ends (succeeded, failed, cancelled, or taken for dead by the sweeper), inside
    the transaction that records the end: it releases what the job held (a pending
    draw, an agreement run, files) so that the app's rows follow their job."""
    entry = JobKindHandlers(run=handler, ended=ended)
    if _kinds.get(kind, entry) != entry:
        raise RuntimeError(f"Job kind {kind!r} has a handler already.")
    _kinds[kind] = entry


def job_handler(kind: str) -> Callable[..., object] | None:
    entry = _kinds.get(kind)
    return entry.run if entry else None


def job_ended_hook(kind: str) -> Callable[..., object] | None:
    entry = _kinds.get(kind)
    return entry.ended if entry else None


def job_kinds_handled() -> set[str]:
    return set(_kinds)
