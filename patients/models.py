"""Patients, their caregivers and oral medicines, and referrals (spec section 2)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from spasticity.models import ClinicalRecord
from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today


def not_in_future(value: object, field: str, label: str) -> dict[str, str]:
    """A field-level error for a date that lies in the clinic's future."""
    if value is not None and value > clinic_today():  # type: ignore[operator]
        return {field: f"{label} cannot be in the future."}
    return {}


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Diagnosis(models.TextChoices):
    CEREBRAL_PALSY = "cerebral_palsy", "Cerebral palsy"
    BRAIN_INJURY = "brain_injury", "Brain injury"
    SPINAL_CORD_INJURY = "spinal_cord_injury", "Spinal cord injury"
    MULTIPLE_SCLEROSIS = "multiple_sclerosis", "Multiple sclerosis"
    STROKE = "stroke", "Stroke"
    HEREDITARY_SPASTIC_PARAPLEGIA = "hereditary_spastic_paraplegia", "Hereditary spastic paraplegia"
    OTHER = "other", "Other"


class PathwayStage(models.TextChoices):
    REFERRED = "referred", "Referred"
    TRIAL_PLANNED = "trial_planned", "Trial planned"
    TRIAL_DONE = "trial_done", "Trial done"
    AWAITING_IMPLANT = "awaiting_implant", "Awaiting implant"
    TITRATION = "titration", "Titration"
    MAINTENANCE = "maintenance", "Maintenance"
    NOT_CANDIDATE = "not_candidate", "Not a candidate"
    EXPLANTED = "explanted", "Explanted"
    DECLINED = "declined", "Declined"


class YesNoUnknown(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNKNOWN = "unknown", "Not asked yet"


class Patient(ClinicalRecord):
    mrn = models.CharField("MRN", max_length=32, unique=True, help_text="Medical record number")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    diagnosis = models.CharField(max_length=40, choices=Diagnosis.choices)
    gmfcs_level = models.PositiveSmallIntegerField(
        "GMFCS level",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="Gross Motor Function Classification System, I to V (optional)",
    )
    weight_kg = models.DecimalField(
        "Weight (kg)",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.5"), "Weight must be more than 0 kg.")],
    )
    height_cm = models.DecimalField(
        "Height (cm)",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("20"), "Height must be at least 20 cm.")],
    )
    assigned_doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="doctor_patients",
        verbose_name="Rehab doctor",
    )
    assigned_nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="nurse_patients",
        verbose_name="Pump nurse",
    )
    reliable_transport = models.CharField(
        "Reliable transport to clinic?", max_length=8, choices=YesNoUnknown.choices, default=YesNoUnknown.UNKNOWN
    )
    travel_burden = models.TextField(
        "Travel time or cost burden", blank=True, help_text="e.g. 2 h each way, relies on hospital transport"
    )
    plans_to_move = models.CharField(
        "Plans to move away?", max_length=8, choices=YesNoUnknown.choices, default=YesNoUnknown.UNKNOWN
    )
    # Derived from the patient's records by patients.pathway; never edited by hand.
    pathway_stage = models.CharField(
        max_length=20, choices=PathwayStage.choices, default=PathwayStage.REFERRED, editable=False, db_index=True
    )

    WRITE_PERMISSION = PERMS.EDIT_PATIENT
    VOID_PERMISSION = PERMS.VOID_PATIENT

    class Meta:
        ordering = ["family_name", "given_name", "mrn"]
        indexes = [models.Index(fields=["family_name", "given_name"])]

    def clean(self) -> None:
        errors = not_in_future(self.birth_date, "birth_date", "Birth date")
        if errors:
            raise ValidationError(errors)

    def __str__(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def get_absolute_url(self) -> str:
        return reverse("patients:detail", args=[self.pk])


class PreferredContact(models.TextChoices):
    """How a caregiver wants appointment reminders (spec section 7); ``none`` sends none."""

    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    NONE = "none", "No reminders"


class Caregiver(ClinicalRecord):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="caregivers")
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=60, help_text="e.g. mother, foster carer")
    phone = models.CharField(
        max_length=32,
        help_text="The number to call about pump alarms and refills",
    )
    email = models.EmailField(blank=True)
    # Opt-in: a family is sent reminders only once someone has asked them how they want them.
    preferred_contact = models.CharField(
        "Appointment reminders by",
        max_length=10,
        choices=PreferredContact.choices,
        default=PreferredContact.NONE,
    )
    is_legal_guardian = models.BooleanField(default=False)
    notes = models.TextField(blank=True)

    WRITE_PERMISSION = PERMS.EDIT_PATIENT

    class Meta:
        ordering = ["-is_legal_guardian", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.relationship})"

    def clean(self) -> None:
        if self.preferred_contact == PreferredContact.EMAIL and not self.email.strip():
            raise ValidationError({"email": ["Give an email address to send reminders by email."]})
        if self.preferred_contact == PreferredContact.SMS and not self.phone.strip():
            raise ValidationError({"phone": ["Give a mobile number to send reminders by text message."]})


class OralMedicine(ClinicalRecord):
    """A current oral anti-spasticity medicine and its wean plan."""

    class Drug(models.TextChoices):
        BACLOFEN = "baclofen", "Baclofen"
        TIZANIDINE = "tizanidine", "Tizanidine"
        DIAZEPAM = "diazepam", "Diazepam"
        DANTROLENE = "dantrolene", "Dantrolene"
        GABAPENTIN = "gabapentin", "Gabapentin"
        CLONAZEPAM = "clonazepam", "Clonazepam"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="oral_medicines")
    drug = models.CharField(max_length=20, choices=Drug.choices)
    drug_other = models.CharField("Other drug name", max_length=100, blank=True)
    dose_description = models.CharField(max_length=200, help_text="e.g. 10 mg three times a day")
    wean_plan = models.TextField(blank=True, help_text="e.g. reduce by 25% every 2 weeks after implant")
    stopped_on = models.DateField(null=True, blank=True)

    WRITE_PERMISSION = PERMS.EDIT_PATIENT_CLINICAL

    class Meta:
        ordering = ["drug"]

    def __str__(self) -> str:
        name = self.drug_other if self.drug == self.Drug.OTHER else self.get_drug_display()
        return f"{name}: {self.dose_description}"


class Referral(ClinicalRecord):
    class Status(models.TextChoices):
        NEW = "new", "New"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="referrals")
    received_on = models.DateField()
    referring_clinician = models.CharField(max_length=200)
    referring_service = models.CharField(max_length=200)
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW, db_index=True)
    decline_reason = models.TextField(blank=True)
    decided_on = models.DateField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    WRITE_PERMISSION = PERMS.MANAGE_REFERRAL

    class Meta:
        ordering = ["-received_on", "-pk"]

    def clean(self) -> None:
        errors = not_in_future(self.received_on, "received_on", "Received date")
        if self.status == self.Status.DECLINED and not self.decline_reason.strip():
            errors["decline_reason"] = "Say why the referral is declined."
        if errors:
            raise ValidationError(errors)

    def __str__(self) -> str:
        return f"Referral of {self.patient} on {self.received_on:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("patients:referral_detail", args=[self.pk])
