"""Shared model pieces: the audited clinical record base and the role permissions holder."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from spasticity.roles import CAPABILITIES


class ClinicPermission(models.Model):
    """Holds the role capabilities as Django permissions; it has no table.

    The permissions are created and given to the role groups by a data migration
    (``spasticity/migrations/0002_roles.py``) from ``spasticity.roles.CAPABILITIES``.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(c.codename, c.description) for c in CAPABILITIES]

    def __str__(self) -> str:
        return "clinic permissions"


class ClinicalRecordQuerySet(models.QuerySet):
    def active(self) -> ClinicalRecordQuerySet:
        return self.filter(voided_at__isnull=True)


class ClinicalRecord(models.Model):
    """Base of every clinical model.

    * full history with the acting user and reason (django-simple-history);
    * ``version``: a consistency token so that a stale edit is refused, not applied;
    * voiding instead of deletion: a voided record keeps its row and says who voided
      it and why.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    voided_at = models.DateTimeField(null=True, blank=True, editable=False)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    void_reason = models.TextField(blank=True, editable=False)

    history = HistoricalRecords(inherit=True)
    # The permission needed to write records of this kind; see spasticity.roles.
    WRITE_PERMISSION: ClassVar[str] = ""
    # The permission needed to void one, when it is not the write permission (a patient or
    # a trial: the rehab doctor's alone). ``void_permission()`` is the one answer.
    VOID_PERMISSION: ClassVar[str] = ""

    objects = ClinicalRecordQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None

    @classmethod
    def void_permission(cls) -> str:
        """The permission a user needs to void a record of this kind ("" means nobody may)."""
        return cls.VOID_PERMISSION or cls.WRITE_PERMISSION

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("Clinical records are voided with a reason, never deleted.")
