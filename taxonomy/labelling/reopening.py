"""Items a later step asks a rater to label again.

An arbitrator may ask a rater to label an item again (arbitration's re-label requests). While
such a request is open, the rater's label on that item is editable even after arbitration has
started, the item comes first in their queue, and their new label answers it. Labelling comes
before arbitration in the method and does not import it: arbitration registers its
``Reopener`` here from its ``AppConfig.ready``, and labelling asks these functions. With none
registered, no item is ever reopened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from annotator.studies.models import Study
from sampling.draws.models import Assignment


@dataclass(frozen=True)
class Reopener:
    is_open: Callable[[Assignment], bool]  # an open request on this assignment
    first_open: Callable[[Study, Any], int | None]  # the rater's first reopened assignment id in the study
    request: Callable[[Assignment], Any]  # the open request to show the rater (None: none)
    answer: Callable[[Assignment, datetime], None]  # the rater's new label answers it (in its transaction)


_reopener: list[Reopener] = []


def reopener_register(reopener: Reopener) -> None:
    _reopener[:] = [reopener]


def assignment_reopened(assignment: Assignment) -> bool:
    return bool(_reopener) and _reopener[0].is_open(assignment)


def reopened_first(*, study: Study, user) -> int | None:
    return _reopener[0].first_open(study, user) if _reopener else None


def reopen_request(*, assignment: Assignment):
    return _reopener[0].request(assignment) if _reopener else None


def reopened_answer(*, assignment: Assignment, now: datetime) -> None:
    if _reopener:
        _reopener[0].answer(assignment, now)
