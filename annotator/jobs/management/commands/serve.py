"""`make run`'s last step: the job worker in the background, the web server in
the foreground, the URL on screen (``make run``'s ``load_demo`` has just
listed the demo logins). Ctrl-C stops both."""

import os
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the Celery worker and the development web server together."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host, port, **opts):
        log_path = settings.DATA_DIR / "worker.log"
        with open(log_path, "ab") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "annotator", "worker",
                 "--loglevel=INFO", "--concurrency=1", "--pool=solo"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        db = "DATABASE_URL" if os.environ.get("DATABASE_URL") else f"SQLite ({settings.DATABASES['default']['NAME']})"
        jobs = "CELERY_BROKER_URL" if os.environ.get("CELERY_BROKER_URL") else "file-system queue, no server"
        self.stdout.write(f"\n  Taxonomist is running:  http://{host}:{port}/")
        self.stdout.write(f"  Database: {db}; jobs: {jobs}; worker log: {log_path}")
        self.stdout.write("  Sign in with a demo login listed above (python manage.py load_demo lists them again).")
        self.stdout.write(f"  API: http://{host}:{port}/api/ (OpenAPI schema at /api/schema/). Stop with Ctrl-C.\n")
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
