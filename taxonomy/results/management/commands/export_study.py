"""python manage.py export_study --study SLUG [--out FILE]"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from annotator.studies.models import Study
from taxonomy.results.archive import study_archive_write


class Command(BaseCommand):
    requires_system_checks = []  # a data command: see import_stackexchange
    help = ("Write a study's archive (versioned JSON: the study with its posts, sets, draws, taxonomy and history, "
            "codes, labels, final labels and agreement runs), which import_study restores.")

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True, help="slug of the study")
        parser.add_argument("--out", default="", help="file to write (default: standard output)")

    def handle(self, *args, **opts):
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"No study with the slug {opts['study']!r}.")
        if not opts["out"]:
            study_archive_write(study=study, out=sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        try:
            with open(opts["out"], "wb") as out:
                counts = study_archive_write(study=study, out=out)
        except OSError as exc:
            raise CommandError(f"Cannot write {opts['out']}: {exc.strerror or exc}.") from None
        rows = sum(n for name, n in counts.items() if name != "users")
        self.stderr.write(f"Wrote the archive of {study.slug!r} to {opts['out']}: {rows:,} rows, "
                          f"{counts['users']:,} users.")
