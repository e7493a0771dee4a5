"""Re-label requests now belong to arbitration (arbitration 0004). State only: the table and its
rows stay; the content type (and so any permission on it) is handed to arbitration."""

from django.db import migrations

from annotator.migration_ops import model_moved_out


class Migration(migrations.Migration):

    dependencies = [
        ('labelling', '0005_rater_tally_moved_in'),
        ('arbitration', '0004_relabel_request_moved_in'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [model_moved_out(model='RelabelRequest', from_app='labelling', to_app='arbitration')]
