"""``python manage.py run_demo``: the web app plus a Celery worker with beat, for the demo.

Uses Redis when it answers; otherwise Kombu's filesystem transport, so that the demo
needs nothing installed beyond Python. Prints the demo logins first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from patients.demo import DEMO_STAFF, SECOND_NURSE
from spasticity.roles import ROLE_LABELS, Role


def redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


class Command(BaseCommand):
    help = "Serve the demo on 127.0.0.1:8000 with a Celery worker and beat running."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        from tests.factories import DEMO_PASSWORD

        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD}):"))
        for role, (username, *_names) in DEMO_STAFF.items():
            self.stdout.write(f"  {username:<10} {ROLE_LABELS[role]}")
        self.stdout.write(f"  {SECOND_NURSE[0]:<10} {ROLE_LABELS[Role.PUMP_NURSE]} (a second nurse)")
        worker = self.start_worker()
        try:
            call_command("runserver", options["addrport"], use_reloader=False)
        finally:
            worker.terminate()
            worker.wait(timeout=10)

    def start_worker(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        broker = settings.CELERY_BROKER_URL
        if not redis_answers(broker):
            folder = Path(settings.BASE_DIR) / ".demo-broker"
            folder.mkdir(exist_ok=True)
            broker = "filesystem://"
            env["CELERY_BROKER_URL"] = broker
            self.stdout.write(f"Redis is not running: the demo's jobs use a folder queue in {folder}.")
        os.environ["CELERY_BROKER_URL"] = broker
        from spasticity.celery import app

        app.conf.update(broker_url=broker)
        command = [sys.executable, "-m", "celery", "-A", "spasticity", "worker", "--beat", "--pool=solo"]
        command += ["--loglevel=WARNING", "--schedule", str(Path(settings.BASE_DIR) / ".demo-beat-schedule")]
        self.stdout.write("Starting the Celery worker and beat (the daily alert scan and digest).")
        return subprocess.Popen(command, env=env)  # noqa: S603
