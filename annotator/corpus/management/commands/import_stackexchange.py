"""python manage.py import_stackexchange --study SLUG FILE... [--only-tags a,b] [--json]"""

from __future__ import annotations

import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotator.corpus.dump_parser import parse_tag_list
from annotator.corpus.services import import_file_describe, import_job_create_for_cli, import_job_execute
from annotator.jobs.services import JobStopped, job_claim, job_fail, job_heartbeat
from annotator.studies.services import study_get_or_create_for_import


class Command(BaseCommand):
    # A data command: the system checks would load every URL and view (SciPy,
    # matplotlib: ~1 s and ~100 MB) for nothing it uses.
    requires_system_checks = []
    help = (
        "Stream Stack Exchange dump files (Posts.xml, Comments.xml, Users.xml) into a study, creating the study if needed. "
        "Idempotent: re-importing updates rows, never duplicates them. A malformed file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--study", required=True, help="slug of the study (created if it does not exist)")
        parser.add_argument("--only-tags", default="", help="comma-separated tags: keep questions with any of them, "
                            "with their answers and comments")
        parser.add_argument("--site", default="", help="site the dump comes from (default: from the file name, "
                            "e.g. genai.stackexchange.com-Posts.xml, else stackoverflow.com)")
        parser.add_argument("--owner", default="", help="username made owner of the study")
        parser.add_argument("--json", action="store_true", help="print one JSON object with the counts")
        parser.add_argument("--quiet", action="store_true", help="no progress on stderr")

    def handle(self, *args, **opts):
        try:
            only_tags = parse_tag_list(opts["only_tags"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        owner = None
        if opts["owner"]:
            owner = get_user_model().objects.filter(username=opts["owner"]).first()
            if owner is None:
                raise CommandError(f"No user {opts['owner']!r}.")
        files = [import_file_describe(path=path, site=opts["site"]) for path in opts["files"]]
        study = study_get_or_create_for_import(slug=opts["study"], owner=owner)
        job = job_claim(job_id=import_job_create_for_cli(study=study, files=files, only_tags=only_tags, user=owner).pk)
        show = not opts["quiet"] and sys.stderr.isatty()

        def on_progress(job):
            if show and job.bytes_total:
                sys.stderr.write(
                    f"\r{job.phase[:40]:40} {100 * job.bytes_read / job.bytes_total:5.1f}%  {job.rows_read:>12,} rows"
                )
                sys.stderr.flush()

        try:
            with job_heartbeat(job):  # the sweeper would take a silent job's process for dead
                summary = import_job_execute(job=job, on_progress=on_progress)
        except JobStopped:  # cancelled from the study's pages (recorded as such), or taken for dead
            job_fail(job=job, error="Stopped.")
            summary = None
        finally:
            if show:
                sys.stderr.write("\n")
        if summary is None:
            if opts["json"]:
                self.stdout.write(json.dumps({"error": job.error, "job": job.pk, "status": job.status}))
            raise CommandError(f"Import failed: {job.error}")
        if opts["json"]:
            self.stdout.write(json.dumps({**summary, "study": study.slug, "job": job.pk}))
            return
        self._print(study, summary)

    def _print(self, study, s):
        w = self.stdout.write
        w(f"Imported into study {study.slug!r} in {s['seconds']:.1f} s "
          f"({s['rows_read']:,} rows, {s['bytes_read'] / 1e6:.1f} MB):")
        w(f"  questions {s['questions']:,}   answers {s['answers']:,}   comments {s['comments']:,}   "
          f"users {s['users']:,}   "
          f"skipped {s['skipped']:,}   rejected {s['rejected']:,}")
        for reason, count in s["skipped_by_reason"].items():
            w(f"  skipped: {reason}: {count:,}")
        for r in s["rejected_rows"][:20]:
            w(f"  rejected: {r['file']} line {r['line']} (Id {r['id']}): {r['reason']}")
        if s["rejected"] > 20:
            w(f"  … {s['rejected'] - 20:,} more rejected rows (see --json)")
        t = s["study_totals"]
        w(f"Study now holds {t['questions']:,} questions, {t['answers']:,} answers, {t['comments']:,} comments.")
