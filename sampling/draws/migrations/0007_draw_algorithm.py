"""Draws record the version of the drawing algorithm. Every draw made before this
migration was drawn by version 1 (posts ordered by database id), so existing rows
get 1; new draws get the model's default, version 2 (posts ordered by site and
Stack Exchange id)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sampling', '0006_rater_tally'),
    ]

    operations = [
        migrations.AddField(
            model_name='sampledraw',
            name='algorithm',
            field=models.PositiveSmallIntegerField(default=1),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='sampledraw',
            name='algorithm',
            field=models.PositiveSmallIntegerField(default=2, help_text='version of the drawing algorithm (sampling.draws.draw): 2 orders posts by (site, id on the site); 1, draws made before, by database id'),
        ),
        migrations.AlterField(
            model_name='samplestratum',
            name='population_digest',
            field=models.CharField(blank=True, help_text="SHA-256 of the set's members (sampling.draws.snapshot): algorithm 2, of the lines site<TAB>id<LF> in (site, id) order; 1, of the sorted ids", max_length=64),
        ),
        migrations.AlterField(
            model_name='stratumpopulation',
            name='ids',
            field=models.BinaryField(help_text="the set's members, compressed: (site, id) pairs or, algorithm 1, post ids"),
        ),
        migrations.AddConstraint(
            model_name='sampledraw',
            constraint=models.CheckConstraint(condition=models.Q(('algorithm__in', (1, 2))), name='draw_algorithm_known'),
        ),
    ]
