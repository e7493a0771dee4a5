"""Create the demo users and the demo study, import the demo corpus, and set up
its question sets, a drawn sample in labelling and a starter taxonomy.

Safe to run again: users and the study are reused, the import updates rows.
Refuses to run in production (TAXONOMIST_PRODUCTION=1): the demo passwords are public.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from annotator.corpus.services import (
    import_file_describe,
    import_job_create_for_cli,
    import_job_execute,
    study_totals,
)
from annotator.demo.method import demo_method_setup
from annotator.jobs.services import job_claim
from annotator.studies.models import Membership, Study
from annotator.studies.services import study_create

DEMO_DATA = Path(settings.BASE_DIR) / "annotator" / "demo" / "data"
DEMO_SLUG = "dl-deployment-demo"
# username: (password, roles)
DEMO_USERS = {
    "owner": ("owner-demo-pass", {"is_owner": True}),
    "rater1": ("rater1-demo-pass", {"is_rater": True}),
    "rater2": ("rater2-demo-pass", {"is_rater": True}),
    "arbitrator": ("arbitrator-demo-pass", {"is_arbitrator": True}),
    "viewer": ("viewer-demo-pass", {}),
}


class Command(BaseCommand):
    help = "Load the demo study (users owner, rater1, rater2, arbitrator, viewer) with its demo corpus."

    def add_arguments(self, parser):
        parser.add_argument("--reimport", action="store_true", help="import the demo corpus again")

    def handle(self, *args, **opts):
        if settings.PRODUCTION:
            raise CommandError("Refusing to create demo users with public passwords in production.")
        User = get_user_model()
        with transaction.atomic():
            users = {}
            for username, (password, _roles) in DEMO_USERS.items():
                user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
                if created:
                    user.set_password(password)
                    user.save()
                users[username] = user
            study = Study.objects.filter(slug=DEMO_SLUG).first() or study_create(
                name="Deploying deep-learning software (demo)",
                slug=DEMO_SLUG,
                description="A small fictional corpus of questions about deploying deep-learning models "
                "to servers, mobile devices and browsers, to try the method end to end.",
                owner=users["owner"],
            )
            for username, (_password, roles) in DEMO_USERS.items():
                Membership.objects.update_or_create(study=study, user=users[username], defaults=roles)
        t = study_totals(study=study)
        if not t["questions"] or opts["reimport"]:
            files = [import_file_describe(path=str(p)) for p in sorted(DEMO_DATA.glob("*.xml"))]
            job = import_job_create_for_cli(study=study, files=files, only_tags=(), user=users["owner"])
            summary = import_job_execute(job=job_claim(job_id=job.pk))
            if summary is None:
                job.refresh_from_db()
                raise CommandError(f"The demo import failed: {job.error}")
            t = summary["study_totals"]
        demo_method_setup(study=study, owner=users["owner"], stdout=self.stdout)
        self.stdout.write(
            f"Demo study {study.slug!r}: {t['questions']} questions, {t['answers']} answers, {t['comments']} comments."
        )
        for username, (password, _roles) in DEMO_USERS.items():
            self.stdout.write(f"  login {username:<11} password {password}")
