"""A rater's keys 1–9: the first nine leaves in tree order the first time, never re-ranked by
use, set by the rater (page, API), one category per key, following a merge, empty for a
retired category; each rater's own."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from taxonomy.labelling import selectors
from taxonomy.labelling.models import HotkeyBinding
from taxonomy.labelling.services import hotkeys_get_or_assign, hotkeys_set, label_submit
from taxonomy.tree.services import category_add, category_merge, category_retire
from tests.taxonomy.labelling.test_views import signed_in

pytestmark = pytest.mark.django_db


def keys(rnd, user):
    """Key → category name ("" for an empty key), as the panel shows them."""
    choices = selectors.category_choices(study=rnd.study, user=user)
    return {k.key: k.category.name if k.category else "" for k in
            hotkeys_get_or_assign(study=rnd.study, user=user, choices=choices)}


def set_keys(rnd, user, mapping):
    hotkeys_set(study=rnd.study, user=user, keys=mapping,
                choices=selectors.category_choices(study=rnd.study, user=user))


def named(rnd, *names):
    return {**{k: "" for k in range(1, 10)}, **dict(enumerate(names, start=1))}


def test_the_first_time_the_first_leaves_in_tree_order_then_never_reranked(rnd):
    assert not HotkeyBinding.objects.exists()
    assert keys(rnd, rnd.ana) == named(rnd, "Serving", "Export", "Quantization")
    assert HotkeyBinding.objects.filter(user=rnd.ana).count() == 9
    # ana labels Quantization again and again: key 1 is still Serving
    for i in range(3):
        label_submit(assignment=rnd.assignment(rnd.ana, i), rater=rnd.ana, kind="categories",
                     category_ids=[rnd.cats["quant"].pk])
    assert keys(rnd, rnd.ana) == named(rnd, "Serving", "Export", "Quantization")


def test_an_empty_key_takes_a_new_leaf_until_the_rater_sets_one(rnd):
    assert keys(rnd, rnd.ana)[4] == ""
    category_add(study=rnd.study, name="Edge", actor=rnd.owner, parent=rnd.cats["mobile"])
    assert keys(rnd, rnd.ana) == named(rnd, "Serving", "Export", "Quantization", "Edge")
    # once ana sets a key, only she changes them: a key she emptied stays empty, a new leaf
    # goes on no key
    set_keys(rnd, rnd.ana, {3: None})
    category_add(study=rnd.study, name="Browser", actor=rnd.owner, parent=rnd.cats["mobile"])
    assert keys(rnd, rnd.ana) == named(rnd, "Serving", "Export", "", "Edge")


def test_the_rater_sets_keys_a_category_on_one_key(rnd):
    keys(rnd, rnd.ana)
    set_keys(rnd, rnd.ana, {9: rnd.cats["serving"].pk})  # Serving leaves key 1 for 9
    assert keys(rnd, rnd.ana) == {**named(rnd, "", "Export", "Quantization"), 9: "Serving"}
    set_keys(rnd, rnd.ana, {1: rnd.cats["export"].pk, 2: rnd.cats["serving"].pk, 9: None})
    assert keys(rnd, rnd.ana) == named(rnd, "Export", "Serving", "Quantization")
    # bo's keys are his own
    assert keys(rnd, rnd.bo) == named(rnd, "Serving", "Export", "Quantization")


@pytest.mark.parametrize(("mapping", "message"), [
    ({10: None}, "There is no key 10"),
    ({1: "inner"}, "is not a leaf you can label with"),
    ({1: "serving", 2: "serving"}, "is given to more than one key"),
    ({1: "bo's proposal"}, "is not a leaf you can label with"),
])
def test_refused_keys(rnd, mapping, message):
    from taxonomy.labelling.services import label_category_propose

    proposal = label_category_propose(study=rnd.study, rater=rnd.bo, name="Bo's own", parent_id=rnd.cats["server"].pk)
    ids = {"inner": rnd.cats["server"].pk, "serving": rnd.cats["serving"].pk, "bo's proposal": proposal.pk}
    keys(rnd, rnd.ana)
    with pytest.raises(ValidationError, match=message):
        set_keys(rnd, rnd.ana, {k: ids.get(v, v) for k, v in mapping.items()})
    assert keys(rnd, rnd.ana) == named(rnd, "Serving", "Export", "Quantization")


def test_a_key_follows_a_merge(rnd):
    keys(rnd, rnd.ana)
    set_keys(rnd, rnd.bo, {3: None})  # bo has Serving and Export on keys, not Quantization
    category_merge(source=rnd.cats["export"], target=rnd.cats["quant"], actor=rnd.owner)
    # ana had both on keys: the survivor keeps its key, the merged one's key is empty
    assert keys(rnd, rnd.ana) == named(rnd, "Serving", "", "Quantization")
    # bo had only Export on a key: it now ticks Quantization
    assert keys(rnd, rnd.bo) == named(rnd, "Serving", "Quantization")
    assert HotkeyBinding.objects.filter(category=rnd.cats["export"]).count() == 0


def test_a_retired_categorys_key_does_nothing(rnd):
    keys(rnd, rnd.ana)
    category_retire(category=rnd.cats["export"], actor=rnd.owner)
    assert keys(rnd, rnd.ana) == named(rnd, "Serving", "", "Quantization")


def test_the_keys_page(rnd):
    c = signed_in(rnd.ana)
    page = c.get("/studies/dl/labelling/keys/?next=/studies/dl/labelling/")
    html = page.content.decode()
    assert page.status_code == 200 and "Serving (Deployment › Server)" in html
    data = {f"key_{k}": "" for k in range(1, 10)}
    data.update(key_1=rnd.cats["quant"].pk, key_2=rnd.cats["serving"].pk, next="/studies/dl/labelling/")
    r = c.post("/studies/dl/labelling/keys/", data)
    assert r.status_code == 302 and r["Location"] == "/studies/dl/labelling/"
    assert keys(rnd, rnd.ana) == named(rnd, "Quantization", "Serving")
    # a leaf whose name another leaf has shows with its parent's
    category_add(study=rnd.study, name="Serving", actor=rnd.owner, parent=rnd.cats["mobile"])
    assert keys(rnd, rnd.ana)[2] == "Serving"  # the key's category, by name
    assert [k.name for k in hotkeys_get_or_assign(study=rnd.study, user=rnd.ana, choices=selectors.category_choices(
        study=rnd.study, user=rnd.ana))][:2] == ["Quantization", "Server › Serving"]
    # the item page shows them with their full paths
    html = c.get("/studies/dl/labelling/").content.decode()
    assert ('title="Deployment › Mobile › Quantization" data-key="1"><kbd>1</kbd> <span class="key-name">Quantization'
            '</span>') in html
    # a category twice is refused with the form; an outside "next" is not followed
    data.update(key_3=rnd.cats["serving"].pk, next="https://elsewhere.example/")
    r = c.post("/studies/dl/labelling/keys/", data)
    assert r.status_code == 200 and "is given to more than one key" in r.content.decode()
    data.update(key_3="")
    assert c.post("/studies/dl/labelling/keys/", data)["Location"] == "/studies/dl/labelling/keys/"
    # only a rater has keys
    assert signed_in(rnd.owner).get("/studies/dl/labelling/keys/").status_code in (403, 404)


def test_the_keys_api(rnd):
    api = APIClient()
    api.force_authenticate(rnd.ana)
    got = api.get("/api/studies/dl/labelling/keys/").json()
    assert [k["key"] for k in got] == list(range(1, 10))
    assert got[0]["category"] == {"id": rnd.cats["serving"].pk, "name": "Serving",
                                  "path": "Deployment › Server › Serving"}
    assert got[3]["category"] is None
    r = api.put("/api/studies/dl/labelling/keys/", {"keys": [{"key": 4, "category": rnd.cats["serving"].pk},
                                                             {"key": 2, "category": None}]}, format="json")
    assert r.status_code == 200, r.json()
    assert [(k["key"], k["category"]["name"] if k["category"] else None) for k in r.json()][:4] == [
        (1, None), (2, None), (3, "Quantization"), (4, "Serving")]
    for body in ({"keys": [{"key": 1, "category": rnd.cats["server"].pk}]},
                 {"keys": [{"key": 0, "category": None}]},
                 {"keys": [{"key": "1", "category": None}]},
                 {"keys": [{"key": 1, "category": None}, {"key": 1, "category": None}]},
                 {"keys": {"1": None}}):
        assert api.put("/api/studies/dl/labelling/keys/", body, format="json").status_code == 400, body
    outsider = APIClient()
    outsider.force_authenticate(rnd.owner)
    assert outsider.get("/api/studies/dl/labelling/keys/").status_code in (403, 404)
