"""Re-label requests now belong to arbitration (arbitration 0004). State only: the table and its
rows stay; the content type (and so any permission on it) is handed to arbitration."""

from django.db import migrations


def content_type_hand_over(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="arbitration", model="relabelrequest").exists():
        ContentType.objects.filter(app_label="labelling", model="relabelrequest").update(app_label="arbitration")


def content_type_hand_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="labelling", model="relabelrequest").exists():
        ContentType.objects.filter(app_label="arbitration", model="relabelrequest").update(app_label="labelling")


class Migration(migrations.Migration):

    dependencies = [
        ('labelling', '0005_rater_tally_moved_in'),
        ('arbitration', '0004_relabel_request_moved_in'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='RelabelRequest')],
            database_operations=[migrations.RunPython(content_type_hand_over, content_type_hand_back)],
        ),
    ]
