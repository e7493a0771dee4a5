"""The raters' tallies now belong to labelling (labelling 0005). State only: the table and its
rows stay; the content type (and so any permission on it) is handed to labelling."""

from django.db import migrations


def content_type_hand_over(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="labelling", model="ratertally").exists():
        ContentType.objects.filter(app_label="sampling", model="ratertally").update(app_label="labelling")


def content_type_hand_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="sampling", model="ratertally").exists():
        ContentType.objects.filter(app_label="labelling", model="ratertally").update(app_label="sampling")


class Migration(migrations.Migration):

    dependencies = [
        ('sampling', '0008_rater_tally_per_stratum'),
        ('labelling', '0005_rater_tally_moved_in'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='RaterTally')],
            database_operations=[migrations.RunPython(content_type_hand_over, content_type_hand_back)],
        ),
    ]
