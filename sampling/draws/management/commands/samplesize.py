"""python manage.py samplesize --population N [--confidence 0.95] [--margin 0.05]
[--proportion 0.5] [--rounding ceil|floor|nearest] [--json]"""

import json

from django.core.management.base import BaseCommand, CommandError

from sampling.draws.sample_size import ROUNDINGS, sample_size


class Command(BaseCommand):
    # A data command: the system checks would load every URL and view (SciPy,
    # matplotlib: ~1 s and ~100 MB) for nothing it uses.
    requires_system_checks = []
    help = "Sample size for a proportion at a confidence level and margin, with the finite-population correction."

    def add_arguments(self, parser):
        parser.add_argument("--population", type=int, required=True, help="N, the number of posts in the set")
        parser.add_argument("--confidence", type=float, default=0.95)
        parser.add_argument("--margin", type=float, default=0.05)
        parser.add_argument("--proportion", type=float, default=0.5)
        parser.add_argument("--rounding", choices=ROUNDINGS, default="ceil")
        parser.add_argument("--json", action="store_true", help='print {"population", "n0", "exact", "n"}')

    def handle(self, *args, **opts):
        try:
            result = sample_size(
                population=opts["population"], confidence=opts["confidence"], margin=opts["margin"],
                proportion=opts["proportion"], rounding=opts["rounding"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if result.note:  # on standard error, so that the output stays n (or the JSON object) alone
            self.stderr.write(result.note)
        if opts["json"]:
            self.stdout.write(json.dumps(
                {"population": result.population, "n0": result.n0, "exact": result.exact, "n": result.n}
            ))
            return
        self.stdout.write(str(result.n))
