"""python manage.py agreement FILE.csv [--json] [--resamples 1000] [--seed 0]"""

import json
import math

from django.core.management.base import BaseCommand, CommandError

from taxonomy.review.agreement.csv_input import RatingsCsvError, parse_ratings_csv
from taxonomy.review.agreement.statistics import (
    COEFFICIENT_TITLES,
    SHARE_COEFFICIENTS,
    AgreementReport,
    RatingTable,
    agreement_report,
)



class Command(BaseCommand):
    # A data command: the system checks would load every URL and view for nothing it uses.
    requires_system_checks = []
    help = ("Inter-rater agreement from a long-format CSV with header item,rater,label (one row per label): "
            "percent agreement, Cohen's κ, Fleiss' κ, Krippendorff's α (nominal and MASI), per category.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV with header item,rater,label")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--resamples", type=int, default=1000,
                            help="bootstrap resamples for the 95 %% intervals (0: none)")
        parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")

    def handle(self, *args, **opts):
        if opts["resamples"] < 0:
            raise CommandError("--resamples must be 0 or more.")
        try:
            with open(opts["file"], "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {opts['file']}: {exc.strerror or exc}") from None
        try:
            triples = parse_ratings_csv(data=data)
        except RatingsCsvError as exc:
            raise CommandError(f"{opts['file']}, {exc}") from None
        report = agreement_report(table=RatingTable.from_triples(triples), resamples=opts["resamples"],
                                  seed=opts["seed"])
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
        else:
            self.stdout.write(format_report(report))


def _number(value: float | None, *, share: bool) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    # "+ 0.0" turns the -0.0 of a tiny negative value into 0.0: no "-0.000"
    return f"{round(100 * value, 1) + 0.0:.1f} %" if share else f"{round(value, 3) + 0.0:.3f}"


def format_report(report: AgreementReport) -> str:
    lines = [f"{report.items} items, {len(report.raters)} raters ({', '.join(map(str, report.raters))}), "
             f"{len(report.labels)} labels", ""]
    for name, estimate in report.estimates.items():
        share = name in SHARE_COEFFICIENTS
        text = f"  {COEFFICIENT_TITLES[name]:<50} {_number(estimate.value, share=share):>8}"
        if estimate.interval:
            text += (f"  [{estimate.interval.level:.0%} CI {_number(estimate.interval.low, share=share)}"
                     f" – {_number(estimate.interval.high, share=share)}]")
        if estimate.value is not None:
            text += f"  on {estimate.items} items"
        lines.append(text)
        for remark in (estimate.reason, estimate.note):
            if remark:
                lines.append(f"      {remark}")
    if report.resamples:
        lines.append(f"  (percentile bootstrap over items, {report.resamples} resamples, seed {report.seed})")
    if report.per_category:
        lines += ["", "Per category (κ: the label as present/absent)",
                  f"  {'label':<30} {'items':>6} {'Cohen κ':>8} {'Fleiss κ':>8}  most often confused with"]
        for category in report.per_category:
            confused = ", ".join(f"{label} ({count})" for label, count in category.confused_with[:3])
            lines.append(f"  {str(category.label):<30} {category.items:>6} "
                         f"{_number(category.cohen_kappa.value, share=False):>8} "
                         f"{_number(category.fleiss_kappa.value, share=False):>8}  {confused}")
            # an n/a comes with its reason, unless it is the headline's (already printed above)
            for title, estimate, headline in (("Cohen κ", category.cohen_kappa, "cohen_kappa"),
                                              ("Fleiss κ", category.fleiss_kappa, "fleiss_kappa")):
                if estimate.reason and estimate.reason != report.estimates[headline].reason:
                    lines.append(f"      {title} n/a: {estimate.reason}")
    return "\n".join(lines)
