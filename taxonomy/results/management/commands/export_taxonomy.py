"""``manage.py export_taxonomy --study SLUG [--draw V] [--stratum NAME] [--out FILE] [--excel]``:
the taxonomy CSV of final labels (see taxonomy/results/taxonomy_csv.py for its columns)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotator.studies.models import Study
from sampling.draws.sight import sight_whole
from taxonomy.results.selectors import results_get
from taxonomy.results.taxonomy_csv import taxonomy_csv_write


class Command(BaseCommand):
    help = "Write the taxonomy of final labels as CSV: a row per category with posts and percent of its root."

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True, help="the study's slug")
        parser.add_argument("--draw", type=int, help="one drawn version (default: every draw in labelling)")
        parser.add_argument("--stratum", help="one stratum, by name")
        parser.add_argument("--out", help="the file to write (default: standard output)")
        parser.add_argument("--excel", action="store_true", help="UTF-8 with a byte-order mark, for Excel")

    def handle(self, *args, **options):
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"No study with the slug “{options['study']}”.")
        try:
            results = results_get(study=study, sight=sight_whole(study=study), draw_version=options["draw"],
                                  stratum_name=options["stratum"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if options["out"]:
            try:
                with open(options["out"], "wb") as out:
                    taxonomy_csv_write(results=results, out=out, excel=options["excel"])
            except OSError as exc:
                raise CommandError(f"Cannot write {options['out']}: {exc.strerror}.") from None
            counts = results.counts
            self.stderr.write(f"{len(counts.nodes)} categories, {counts.items} items ({counts.undecided} not decided "
                              f"yet) → {options['out']}")
        else:
            taxonomy_csv_write(results=results, out=self.stdout, excel=options["excel"])
