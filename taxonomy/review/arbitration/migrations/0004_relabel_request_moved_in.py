"""Re-label requests move from labelling to arbitration, which makes them (issue 21). State only:
the table (``labelling_relabelrequest``), its rows, constraint and content type stay; labelling
0006 drops the model from labelling's state and hands the content type over."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('arbitration', '0003_pilot_decisions'),
        ('labelling', '0005_rater_tally_moved_in'),
        ('sampling', '0008_rater_tally_per_stratum'),
        ('tree', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='RelabelRequest',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('message', models.TextField(blank=True)),
                        ('requested_at', models.DateTimeField(auto_now_add=True)),
                        ('done_at', models.DateTimeField(blank=True, null=True)),
                        ('assignment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='relabel_requests', to='sampling.assignment')),
                        ('category', models.ForeignKey(blank=True, help_text='the category to consider, when the request is about one', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tree.category')),
                        ('requested_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'labelling_relabelrequest',
                        'constraints': [models.UniqueConstraint(condition=models.Q(('done_at__isnull', True)), fields=('assignment',), name='relabel_one_open_request_per_assignment')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
