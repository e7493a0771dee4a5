"""Rater tallies per stratum, with what was assigned: the one source of "labelled / assigned"
(issue 21, item 5). The item page read the submitted count from the tally but counted the
assigned (cached per process) and counted both where a draw had no tally; the progress page
and API counted every assignment per stratum on each call. Every tally is made again here
from the assignments, for every draw whose labelling has started."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, F, Q


def tallies_rebuild(apps, schema_editor):
    """Per draw, rater and stratum: the assignments and the submitted ones, counted once here."""
    Assignment = apps.get_model("sampling", "Assignment")
    RaterTally = apps.get_model("sampling", "RaterTally")
    RaterTally.objects.all().delete()
    rows = (Assignment.objects.filter(draw__labelling_started_at__isnull=False)
            .values("draw_id", "rater_id", "item__stratum_id")
            .annotate(assigned=Count("id"), submitted=Count("id", filter=Q(submitted_at__isnull=False)))
            .order_by())
    RaterTally.objects.bulk_create(
        (RaterTally(draw_id=r["draw_id"], rater_id=r["rater_id"], stratum_id=r["item__stratum_id"],
                    assigned=r["assigned"], submitted=r["submitted"]) for r in rows),
        batch_size=1000)
    if schema_editor.connection.vendor == "postgresql":
        # the new rows' deferred foreign-key checks now, before this transaction alters the table
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ('sampling', '0007_draw_algorithm'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name='ratertally', name='tally_once_per_draw_rater'),
        migrations.AddField(
            model_name='ratertally',
            name='assigned',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='ratertally',
            name='stratum',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+',
                                    to='sampling.samplestratum'),
        ),
        migrations.RunPython(tallies_rebuild, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='ratertally',
            name='stratum',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+',
                                    to='sampling.samplestratum'),
        ),
        migrations.AddConstraint(
            model_name='ratertally',
            constraint=models.UniqueConstraint(fields=('draw', 'rater', 'stratum'),
                                               name='tally_once_per_draw_rater_stratum'),
        ),
        migrations.AddConstraint(
            model_name='ratertally',
            constraint=models.CheckConstraint(condition=Q(submitted__lte=F('assigned')),
                                              name='tally_submitted_within_assigned'),
        ),
    ]
