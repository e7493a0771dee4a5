"""Final labels, open re-label requests and arbitrators' roots left on a merged category go to
where it was merged.

Before tree changes followed every table (taxonomy.tree.dependents), a merge moved the raters'
labels and codes but left these on the retired category, so published counts were wrong. Each
row moves to the end of its category's ``merged_into`` chain, as a merge now moves it; a final
label (or arbitrator) that already names the survivor keeps one row.
"""

from django.db import migrations


def _survivors(Category) -> dict[int, int]:
    """Merged category id → the live category at the end of its merged_into chain."""
    merged = dict(Category.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id"))
    out = {}
    for start in merged:
        node, seen = start, {start}
        while node in merged and merged[node] not in seen:
            node = merged[node]
            seen.add(node)
        if node != start:
            out[start] = node
    return out


def follow_merges(apps, schema_editor):
    Category = apps.get_model("tree", "Category")
    FinalLabelCategory = apps.get_model("arbitration", "FinalLabelCategory")
    ArbitratorRoot = apps.get_model("arbitration", "ArbitratorRoot")
    RelabelRequest = apps.get_model("labelling", "RelabelRequest")
    survivors = _survivors(Category)
    if not survivors:
        return
    for row in FinalLabelCategory.objects.filter(category_id__in=list(survivors)).order_by("pk"):
        target = survivors[row.category_id]
        if FinalLabelCategory.objects.filter(final_id=row.final_id, category_id=target).exists():
            row.delete()
        else:
            FinalLabelCategory.objects.filter(pk=row.pk).update(category_id=target)
    for row in ArbitratorRoot.objects.filter(root_id__in=list(survivors)).order_by("pk"):
        target = survivors[row.root_id]
        if ArbitratorRoot.objects.filter(study_id=row.study_id, user_id=row.user_id, root_id=target).exists():
            row.delete()
        else:
            ArbitratorRoot.objects.filter(pk=row.pk).update(root_id=target)
    for row in RelabelRequest.objects.filter(category_id__in=list(survivors), done_at__isnull=True):
        RelabelRequest.objects.filter(pk=row.pk).update(category_id=survivors[row.category_id])


class Migration(migrations.Migration):

    dependencies = [
        ("arbitration", "0001_initial"),
        ("labelling", "0003_relabel_request"),
        ("tree", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(follow_merges, migrations.RunPython.noop),
    ]
