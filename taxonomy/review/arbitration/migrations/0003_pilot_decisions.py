"""Pilot items get final labels too: method "pilot" (the team's decision, recorded by an owner or
arbitrator). Such a decision names who recorded it; its reason is an optional note (the other
decisions keep requiring one)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('arbitration', '0002_final_labels_follow_merges'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='finallabel',
            name='final_method_valid',
        ),
        migrations.RemoveConstraint(
            model_name='finallabel',
            name='final_decision_has_arbitrator_and_reason',
        ),
        migrations.AlterField(
            model_name='finallabel',
            name='method',
            field=models.CharField(choices=[('agreed', 'Agreed'), ('arbitrated', 'Arbitrated'), ('from_pending', 'From Pending'), ('pilot', 'Pilot (joint decision)')], max_length=16),
        ),
        migrations.AddConstraint(
            model_name='finallabel',
            constraint=models.CheckConstraint(condition=models.Q(('method__in', ['agreed', 'arbitrated', 'from_pending', 'pilot'])), name='final_method_valid'),
        ),
        migrations.AddConstraint(
            model_name='finallabel',
            constraint=models.CheckConstraint(condition=models.Q(('method', 'agreed'), models.Q(('decided_by__isnull', False), ('method', 'pilot')), models.Q(('decided_by__isnull', False), models.Q(('reason', ''), _negated=True)), _connector='OR'), name='final_decision_has_arbitrator_and_reason'),
        ),
    ]
