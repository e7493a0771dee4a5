"""Everything that points at a category, and how it follows a merge, a split and a retirement.

The one list of the tables whose rows name a category (a foreign key, a
one-to-one or a many-to-many to ``tree.Category``), each with what a tree
change does to its rows. The tree services (``taxonomy.tree.services``) read
it and nothing else, so a merge moves final labels exactly as it moves labels,
and a table added later is one ``register`` call in its app away from
following too. A test walks every relation to ``Category`` in the installed
models and fails when one is not registered here.

Each app registers its own fields in its ``AppConfig.ready()``: the tree app
never imports a later app (labelling, coding, arbitration depend on the tree,
never the reverse), and the registry is complete once Django has started.

How a row follows:

- **merge** — ``MOVE``: the row now names the survivor; when the table allows
  one row per (``unique_with``, category), a row whose partner already names
  the survivor is dropped (a label naming both keeps one). ``ADD``: the
  survivor gets a copy of each (example posts: it has the merged category's as
  well). ``KEEP``: history, the row stays on the retired category.
- **split** — ``CHOSEN``: the rows the user ticks (by ``chosen_by``, among
  ``choices``) move to the new sibling. ``COPY``: the new sibling gets a copy
  of every row. ``KEEP``: they stay with the category that was split.
- **retire** — ``BLOCK``: refused while such a row names the category (merge
  it instead, so they move). ``KEEP``: history.
- **move** changes no row: ids stay, every row keeps naming its category
  wherever the branch goes. ``leaf_only`` rows (labels, final labels) stay on
  leaves: a category holding some cannot get children (``leaf_only_counts``).

Only the rows matched by ``following`` follow (e.g. open re-label requests);
the others are history and stay where they are. A many-to-many's rows are the
rows of its link table (the other side's column is the one unique with the
category), so it follows like any foreign key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models

MOVE, ADD, KEEP = "move", "add", "keep"
CHOSEN, COPY = "chosen", "copy"
BLOCK = "block"
# Category.parent: the tree itself. Merge and retire refuse a category with live
# children; a split's new sibling takes the same parent; move is what changes it.
STRUCTURE = "structure"

_MERGE = {MOVE, ADD, KEEP, STRUCTURE}
_SPLIT = {CHOSEN, COPY, KEEP, STRUCTURE}
_RETIRE = {BLOCK, KEEP, STRUCTURE}


@dataclass(frozen=True, eq=False)
class Dependent:
    model: type[models.Model]
    field: str
    name: str  # key in CategoryChange.moved and the split's choices: "labels", "final_labels", …
    singular: str
    plural: str
    merge: str
    split: str
    retire: str
    unique_with: str | None = None
    chosen_by: str = "pk"
    following: models.Q | None = None
    leaf_only: bool = False
    # split: the rows ``user`` may choose from (default: every following row), and how one reads
    choices: Callable | None = None
    choice_text: Callable = str
    why: str = ""

    @property
    def key(self) -> str:
        """"app_label.Model.field", as the coverage test names it."""
        return f"{self.model._meta.label}.{self.field}"

    @property
    def table(self) -> tuple[type[models.Model], str, str | None]:
        """The rows that name a category: (model, its column naming the category, the column that is
        unique with it or None). A many-to-many's rows are its link table's."""
        relation = self.model._meta.get_field(self.field)
        if not relation.many_to_many:
            return self.model, self.field, self.unique_with
        through = relation.remote_field.through
        if self.model._meta.label == "tree.Category":  # Category's own (examples): the source side
            return through, relation.m2m_field_name(), relation.m2m_reverse_field_name()
        return through, relation.m2m_reverse_field_name(), relation.m2m_field_name()

    def count_text(self, n: int) -> str:
        return f"{n} {self.singular if n == 1 else self.plural}"

    def rows(self, category) -> models.QuerySet:
        """This table's rows naming ``category`` that follow tree changes."""
        model, column, _ = self.table
        rows = model._default_manager.filter(**{column: category})
        return rows.filter(self.following) if self.following is not None else rows

    def copy_to(self, rows, category) -> int:
        """Copies of ``rows`` naming ``category`` (none for a partner that names it already)."""
        model, column, partner = self.table
        if partner:
            rows = rows.exclude(**{f"{partner}__in": model._default_manager.filter(**{column: category})
                                   .values(partner)})
        copies = []
        for row in rows:
            row.pk = None
            setattr(row, column, category)
            copies.append(row)
        model._default_manager.bulk_create(copies)
        return len(copies)

    def move_to(self, rows, category) -> int:
        """``rows`` now name ``category``; one whose partner names it already is dropped instead."""
        model, column, partner = self.table
        count = rows.count()
        if count and partner:
            rows.filter(**{f"{partner}__in": model._default_manager.filter(**{column: category})
                           .values(partner)}).delete()
        if count:
            rows.update(**{column: category})
        return count

    def choosable(self, category, user) -> models.QuerySet:
        return self.choices(category, user) if self.choices is not None else self.rows(category)


_registry: dict[str, Dependent] = {}


def register(model: type[models.Model], field: str, *, name: str, singular: str, plural: str, merge: str,
             split: str, retire: str, **options) -> Dependent:
    """Declare how ``model.field`` (a relation to ``tree.Category``) follows tree changes."""
    from .models import Category

    relation = model._meta.get_field(field)
    points_at_category = relation.related_model is Category or (model is Category and relation.many_to_many)
    if not (relation.is_relation and relation.concrete and points_at_category):
        raise ImproperlyConfigured(f"{model._meta.label}.{field} is not a relation to a category.")
    if merge not in _MERGE or split not in _SPLIT or retire not in _RETIRE:
        raise ImproperlyConfigured(f"{model._meta.label}.{field}: unknown policy {merge}/{split}/{retire}.")
    dependent = Dependent(model=model, field=field, name=name, singular=singular, plural=plural, merge=merge,
                          split=split, retire=retire, **options)
    clash = next((d for d in _registry.values() if d.name == name and d.key != dependent.key), None)
    if clash is not None:
        raise ImproperlyConfigured(f"{dependent.key}: the name “{name}” is {clash.key}'s already.")
    _registry[dependent.key] = dependent
    return dependent


def registered() -> list[Dependent]:
    return list(_registry.values())


def get(name: str) -> Dependent:
    found = next((d for d in _registry.values() if d.name == name), None)
    if found is None:
        raise KeyError(f"No dependent of a category is called {name!r} (taxonomy.tree.dependents).")
    return found


def relations_to_category(models_to_walk: Iterable[type[models.Model]] | None = None) -> list[str]:
    """Every relation whose rows name a category, as "app.Model.field", in the installed models
    (or ``models_to_walk``): foreign keys and one-to-ones to Category, many-to-manys to it, and
    Category's own many-to-manys (their link tables hold category ids too)."""
    from django.apps import apps

    from .models import Category

    found = []
    for model in models_to_walk if models_to_walk is not None else apps.get_models():
        for relation in model._meta.get_fields():
            if not (relation.is_relation and relation.concrete):
                continue
            if relation.related_model is Category or (issubclass(model, Category) and relation.many_to_many):
                found.append(f"{model._meta.label}.{relation.name}")
    return sorted(found)


def unhandled(models_to_walk: Iterable[type[models.Model]] | None = None) -> list[str]:
    """The relations to a category that nobody registered: each one a table a merge would strand."""
    return [key for key in relations_to_category(models_to_walk) if key not in _registry]


def check_every_relation_registered(app_configs=None, **kwargs):
    """System check (``manage.py check``, runserver): a relation to Category nobody registered."""
    from django.core import checks

    return [checks.Error(f"{key} points at a category but does not say how it follows a merge, split or "
                         "retirement.", hint="Register it in its app's AppConfig.ready() with "
                         "taxonomy.tree.dependents.register().", id="tree.E001") for key in unhandled()]


def counts_text(counts: Iterable[tuple[Dependent, int]]) -> str:
    """"2 labels, 1 final label and 1 code" ("nothing" when there is none)."""
    parts = [dependent.count_text(n) for dependent, n in counts if n]
    if not parts:
        return "nothing"
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def moved_text(moved: Mapping[str, int]) -> str:
    """A change's ``moved`` (name → count) in words."""
    return counts_text((get(name), n) for name, n in moved.items())


# -- what the tree services call --------------------------------------------------------------


def _following(operation: str, policies: Iterable[str]) -> list[Dependent]:
    return [d for d in _registry.values() if getattr(d, operation) in policies]


def merge_into(*, source, target) -> dict[str, int]:
    """Every row that follows a merge now names ``target``; name → how many rows named ``source``."""
    moved = {}
    for dependent in _following("merge", {MOVE, ADD}):
        rows = dependent.rows(source)
        if dependent.merge == ADD:
            dependent.copy_to(rows, target)
            count = rows.count()
        else:
            count = dependent.move_to(rows, target)
        if count:
            moved[dependent.name] = count
    return moved


def split_check(*, source, actor, chosen: Mapping[str, Iterable[int]]) -> dict[Dependent, list[int]]:
    """The ids chosen per dependent, each among the rows ``actor`` may choose, or a ValidationError
    naming the ones that are not."""
    known = {d.name: d for d in _following("split", {CHOSEN})}
    chosen = {name: sorted({int(i) for i in ids}) for name, ids in chosen.items()}
    unknown = sorted(name for name, ids in chosen.items() if ids and name not in known)
    if unknown:
        raise ValidationError(f"Nothing called {', '.join(unknown)} moves in a split.")
    out, errors = {}, {}
    for name, ids in chosen.items():
        if not ids:
            continue
        dependent = known[name]
        found = set(dependent.choosable(source, actor).filter(**{f"{dependent.chosen_by}__in": ids})
                    .values_list(dependent.chosen_by, flat=True))
        if missing := [i for i in ids if i not in found]:
            errors[name] = (f"Not {dependent.plural} of “{source.name}” (that you may see): "
                            f"{', '.join(map(str, missing))}.")
        out[dependent] = ids
    if errors:
        raise ValidationError(errors)
    return out


def split_off(*, source, new, chosen: Mapping[Dependent, list[int]]) -> dict[str, int]:
    """The chosen rows (from ``split_check``) move to ``new``, copied ones are copied; name → count."""
    moved = {}
    for dependent, ids in chosen.items():
        moved[dependent.name] = dependent.move_to(
            dependent.rows(source).filter(**{f"{dependent.chosen_by}__in": ids}), new)
    for dependent in _following("split", {COPY}):
        moved[dependent.name] = dependent.copy_to(dependent.rows(source), new)
    return {name: n for name, n in moved.items() if n}


def split_choices(*, category, user) -> list[tuple[Dependent, list[tuple[int, str]]]]:
    """For the split form: each dependent whose rows the user picks, with (id, text) choices."""
    out = []
    for dependent in _following("split", {CHOSEN}):
        rows = dependent.choosable(category, user)
        out.append((dependent, [(getattr(row, dependent.chosen_by), dependent.choice_text(row)) for row in rows]))
    return out


def retire_blockers(*, category) -> list[tuple[Dependent, int]]:
    """The rows that keep ``category`` from being retired, as (dependent, count)."""
    out = []
    for dependent in _following("retire", {BLOCK}):
        count = dependent.rows(category).count()
        if count:
            out.append((dependent, count))
    return out


def leaf_only_counts(*, category, names: Iterable[str] | None = None) -> list[tuple[Dependent, int]]:
    """Rows that keep ``category`` a leaf (``names``: only these dependents), as (dependent, count)."""
    out = []
    for dependent in _registry.values():
        if dependent.leaf_only and (names is None or dependent.name in names):
            count = dependent.rows(category).count()
            if count:
                out.append((dependent, count))
    return out


def register_tree_fields() -> None:
    """The tree's own relations to a category (called by the tree's AppConfig.ready)."""
    from .models import Category, CategoryChange

    register(Category, "parent", name="children", singular="sub-category", plural="sub-categories",
             merge=STRUCTURE, split=STRUCTURE, retire=STRUCTURE,
             why="the tree itself: merge and retire refuse a category with live children")
    register(Category, "merged_into", name="merged", singular="merged category", plural="merged categories",
             merge=KEEP, split=KEEP, retire=KEEP, why="history: where a merged category's rows went")
    register(Category, "examples", name="examples", singular="example post", plural="example posts",
             merge=ADD, split=KEEP, retire=KEEP,
             why="the survivor of a merge gets the merged category's examples too")
    register(CategoryChange, "category", name="changes", singular="change", plural="changes",
             merge=KEEP, split=KEEP, retire=KEEP, why="history: the record of each change")
