"""The raters' tallies move from sampling to labelling, whose state they are (issue 21). State
only: the table (``sampling_ratertally``), its rows, constraints and content type stay; sampling
0009 drops the model from sampling's state and hands the content type over."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labelling', '0004_hotkey_binding'),
        ('sampling', '0008_rater_tally_per_stratum'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='RaterTally',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('assigned', models.PositiveIntegerField(default=0)),
                        ('submitted', models.PositiveIntegerField(default=0)),
                        ('draw', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tallies', to='sampling.sampledraw')),
                        ('rater', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('stratum', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='sampling.samplestratum')),
                    ],
                    options={
                        'db_table': 'sampling_ratertally',
                        'constraints': [
                            models.UniqueConstraint(fields=('draw', 'rater', 'stratum'), name='tally_once_per_draw_rater_stratum'),
                            models.CheckConstraint(condition=models.Q(('submitted__lte', models.F('assigned'))), name='tally_submitted_within_assigned'),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
