"""An import run: the uploaded file, who ran it, and its result (not a clinical record).

The page queues a run as a job and polls it; the records the import creates are the
clinical ones, audited by the services that write them. A run only keeps what the user
uploaded and what the import answered, so that the result page and its CSV downloads
can be shown again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class ImportRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="import_runs")
    file_name = models.CharField(max_length=255)
    content = models.BinaryField(editable=False, help_text="The upload; emptied once the run has finished")
    commit = models.BooleanField(default=False, help_text="False: a dry run, nothing is saved")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True, editable=False)
    failure = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        kind = "commit" if self.commit else "dry run"
        return f"{self.file_name} ({kind}, {self.get_status_display().lower()})"

    def get_absolute_url(self) -> str:
        return f"{reverse('imports:run')}?run={self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
