"""The raters' tallies now belong to labelling (labelling 0005). State only: the table and its
rows stay; the content type (and so any permission on it) is handed to labelling."""

from django.db import migrations

from annotator.migration_ops import model_moved_out


class Migration(migrations.Migration):

    dependencies = [
        ('sampling', '0008_rater_tally_per_stratum'),
        ('labelling', '0005_rater_tally_moved_in'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [model_moved_out(model='RaterTally', from_app='sampling', to_app='labelling')]
