"""python manage.py import_study FILE [--json]"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from taxonomy.results.archive import study_archive_restore, study_archive_sizes


class Command(BaseCommand):
    requires_system_checks = []  # a data command: see import_stackexchange
    help = ("Restore a study archive (written by export_study or found in a replication package) into this "
            "installation, every row with its original id. Refused, with nothing written, when the file is not a "
            "valid archive, when the study's slug exists here, or when this installation holds any of its ids "
            "(restore into a fresh installation).")

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--json", action="store_true", help="print one JSON object: the study and its row counts")

    def handle(self, *args, **opts):
        try:
            with open(opts["file"], "rb") as fileobj:
                study = study_archive_restore(fileobj=fileobj)
        except OSError as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc.strerror or exc}.") from None
        except ValidationError as exc:
            raise CommandError(f"Not restored: {' '.join(exc.messages)}") from None
        counts = study_archive_sizes(study=study)
        if opts["json"]:
            self.stdout.write(json.dumps({"study": study.slug, "id": study.pk, "counts": counts}))
            return
        self.stdout.write(f"Restored study {study.slug!r} ({study.name}):")
        self.stdout.write("  " + "   ".join(f"{name.replace('_', ' ')} {n:,}" for name, n in counts.items() if n))
