"""A rater's tally (``RaterTally.submitted``) is kept by the database: a trigger on the
assignments adds one when an assignment's ``submitted_at`` is set and takes one off when it is
cleared, in the statement that changes it. Whoever writes the assignment (``label_submit``, a
test, an administrator's SQL), the tally follows; and a submission no longer compiles an update
of its own (a tenth of the work of each one, measured in instructions)."""

from django.db import migrations

NAME = "labelling_tally_follows_submission"

# What the trigger does, in SQL both SQLite and PostgreSQL read: NEW/OLD are the assignment's row.
_TALLY = """
UPDATE sampling_ratertally SET submitted = submitted {sign} 1
 WHERE draw_id = {row}.draw_id AND rater_id = {row}.rater_id
   AND stratum_id = (SELECT stratum_id FROM sampling_sampleitem WHERE id = {row}.item_id)"""
_SET = "OLD.submitted_at IS NULL AND NEW.submitted_at IS NOT NULL"
_CLEARED = "OLD.submitted_at IS NOT NULL AND NEW.submitted_at IS NULL"

SQLITE = [
    f"""CREATE TRIGGER {NAME}_set AFTER UPDATE OF submitted_at ON sampling_assignment
        FOR EACH ROW WHEN {_SET} BEGIN {_TALLY.format(sign="+", row="NEW")}; END""",
    f"""CREATE TRIGGER {NAME}_cleared AFTER UPDATE OF submitted_at ON sampling_assignment
        FOR EACH ROW WHEN {_CLEARED} BEGIN {_TALLY.format(sign="-", row="NEW")}; END""",
]
SQLITE_REVERSE = [f"DROP TRIGGER IF EXISTS {NAME}_set", f"DROP TRIGGER IF EXISTS {NAME}_cleared"]

POSTGRESQL = [
    f"""CREATE FUNCTION {NAME}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF {_SET} THEN {_TALLY.format(sign="+", row="NEW")};
          ELSIF {_CLEARED} THEN {_TALLY.format(sign="-", row="NEW")};
          END IF;
          RETURN NULL;
        END $$""",
    f"""CREATE TRIGGER {NAME} AFTER UPDATE OF submitted_at ON sampling_assignment
        FOR EACH ROW WHEN (OLD.submitted_at IS DISTINCT FROM NEW.submitted_at
                           AND (OLD.submitted_at IS NULL OR NEW.submitted_at IS NULL))
        EXECUTE FUNCTION {NAME}()""",
]
POSTGRESQL_REVERSE = [f"DROP TRIGGER IF EXISTS {NAME} ON sampling_assignment", f"DROP FUNCTION IF EXISTS {NAME}()"]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('labelling', '0006_relabel_request_moved_out'),
        ('sampling', '0009_rater_tally_moved_out'),
    ]

    operations = [
        migrations.RunPython(_run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
                             _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE})),
    ]
