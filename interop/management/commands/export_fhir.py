"""``python manage.py export_fhir --out DIR``: the caseload as FHIR NDJSON (see ``interop.bulk``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from interop.bulk import export_caseload
from spasticity.timeutil import clinic_today


class Command(BaseCommand):
    help = "Write every patient's pump record as FHIR R4 NDJSON, one file per resource type."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", required=True, type=Path, help="the folder to write the .ndjson files into")

    def handle(self, *args: Any, **options: Any) -> None:
        out_dir: Path = options["out"]
        counts = export_caseload(out_dir, as_of=clinic_today())
        for kind, count in sorted(counts.items()):
            self.stdout.write(f"{kind}.ndjson: {count}")
        self.stdout.write(self.style.SUCCESS(f"Wrote {sum(counts.values())} resources to {out_dir}."))
