"""``python manage.py export_fhir --out DIR --as-user USERNAME``: the caseload as FHIR NDJSON (see ``interop.bulk``).

The export is the named staff member's: the access log records them as having exported
each patient's record (channel ``ndjson``), as it records a page view or an API read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from interop.bulk import export_caseload
from spasticity.timeutil import clinic_today


class Command(BaseCommand):
    help = "Write every patient's pump record as FHIR R4 NDJSON, one file per resource type."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", required=True, type=Path, help="the folder to write the .ndjson files into")
        parser.add_argument(
            "--as-user",
            dest="username",
            help="the staff member the export is recorded as in the access log (required)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options["username"])
        out_dir: Path = options["out"]
        command = f"manage.py export_fhir --out {out_dir} --as-user {user.username}"
        try:
            counts = export_caseload(out_dir, as_of=clinic_today(), by=user, command=command)
        except PermissionDenied as error:
            raise CommandError(f"{user.username}: {error}") from None
        for kind, count in sorted(counts.items()):
            self.stdout.write(f"{kind}.ndjson: {count}")
        self.stdout.write(self.style.SUCCESS(f"Wrote {sum(counts.values())} resources to {out_dir}."))

    def _user(self, username: str | None) -> User:
        if not username:
            raise CommandError("Name the staff member the export is recorded as: --as-user USERNAME.")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active account has the username {username!r}.")
        return user
