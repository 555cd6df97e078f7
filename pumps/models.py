"""Pump catalogue, pumps, surgeries, dose programs and refills (spec section 2).

The pump row stores its current reservoir projection (``alarm_date``,
``refill_due_on``) and ``battery_end_of_service_on`` so that lists, reports and the
alert scan read columns instead of replaying history. Those columns and the cached
"current" values beside them are written only by
``pumps.services.pump_recompute_projection``, in the same transaction as the change
that moved them; ``python manage.py verify_projections`` checks they never drift.

Dose changes and refills also keep the alarm and refill-due dates computed when they
were recorded: that is what the family was told and printed, so voiding a later or
earlier record does not rewrite them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from patients.models import Patient, not_in_future
from pumps import dosing
from spasticity.models import ClinicalRecord, ClinicalRecordQuerySet
from spasticity.roles import PERMS

STANDARD_CONCENTRATIONS_MCG_PER_ML = (Decimal(50), Decimal(500), Decimal(1000), Decimal(2000))

_POSITIVE_DOSE = MinValueValidator(Decimal("0.01"), "The daily dose must be more than 0 mcg/day.")
_POSITIVE_CONCENTRATION = MinValueValidator(Decimal("0.01"), "The concentration must be more than 0 mcg/mL.")
_POSITIVE_VOLUME = MinValueValidator(Decimal("0.01"), "The volume must be more than 0 mL.")
_NOT_NEGATIVE_VOLUME = MinValueValidator(Decimal(0), "The volume cannot be negative.")


def _fmt(value: Decimal | None) -> str:
    """500.00 → 500, 12.50 → 12.5 (for messages and labels)."""
    if value is None:
        return "—"
    return format(value.normalize(), "f")


class Drug(models.TextChoices):
    LIORESAL = "lioresal", "Lioresal Intrathecal"
    GABLOFEN = "gablofen", "Gablofen"
    COMPOUNDED = "compounded", "Compounded baclofen"


class MriProcedure(models.TextChoices):
    """What a pump model needs around an MRI scan (spec "Pump-model rules")."""

    NONE = "none", "None recorded"
    EMPTY_BEFORE_REFILL_AFTER = "empty_before_refill_after", "Empty before the MRI (1.5 T only), refill after"
    INTERROGATE_AFTER = "interrogate_after", "Interrogate after the MRI to confirm the motor restarted"


class PumpModel(ClinicalRecord):
    """A catalogue entry: what a pump model holds and how long its battery lasts."""

    # What a catalogue edit may change, on the page and through the API alike.
    EDITABLE_FIELDS = (
        "manufacturer",
        "model",
        "reservoir_sizes_ml",
        "nominal_battery_life_months",
        "days_eri_to_eos",
        "default_low_reservoir_alarm_ml",
        "labelled_min_age_years",
        "mri_procedure",
    )

    manufacturer = models.CharField(max_length=100)
    model = models.CharField(max_length=100, help_text="e.g. SynchroMed II")
    reservoir_sizes_ml = models.JSONField(
        "Reservoir sizes (mL)", default=list, help_text="The reservoir volumes this model comes in, e.g. [20, 40]"
    )
    nominal_battery_life_months = models.PositiveIntegerField(
        validators=[MinValueValidator(1, "Battery life must be at least 1 month.")]
    )
    days_eri_to_eos = models.PositiveIntegerField(
        "Days from replacement indicator to end of service",
        null=True,
        blank=True,
        help_text="e.g. 90 for SynchroMed II; leave empty when the manufacturer gives none",
    )
    default_low_reservoir_alarm_ml = models.DecimalField(
        "Default low-reservoir alarm (mL)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"), "The alarm volume cannot be negative.")],
        help_text="Used when an implant, or a replacement by this model, gives none "
        "(Prometra II 3.0, SynchroMed II 2.0)",
    )
    labelled_min_age_years = models.PositiveSmallIntegerField(
        "Labelled minimum age (years)",
        null=True,
        blank=True,
        help_text="A younger patient's implant needs an off-label reason (Prometra II: 22)",
    )
    mri_procedure = models.CharField(
        "MRI procedure",
        max_length=30,
        choices=MriProcedure.choices,
        default=MriProcedure.NONE,
        help_text="What an MRI needs: empty the pump first and refill after (Prometra), "
        "or interrogate it after to confirm the motor restarted (SynchroMed)",
    )

    WRITE_PERMISSION = PERMS.EDIT_PUMP_CATALOGUE

    class Meta:
        ordering = ["manufacturer", "model"]
        constraints = [models.UniqueConstraint(fields=["manufacturer", "model"], name="unique_pump_model")]

    def __str__(self) -> str:
        return f"{self.manufacturer} {self.model}"

    def reservoir_sizes(self) -> list[Decimal]:
        return [Decimal(str(size)) for size in self.reservoir_sizes_ml or []]

    @property
    def reservoir_sizes_label(self) -> str:
        return ", ".join(f"{_fmt(size)} mL" for size in self.reservoir_sizes())

    def clean(self) -> None:
        sizes = self.reservoir_sizes_ml
        problem = "List the reservoir sizes in mL, e.g. [20, 40]."
        if not isinstance(sizes, list) or not sizes:
            raise ValidationError({"reservoir_sizes_ml": [problem]})
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, (int, float, str)):
                raise ValidationError({"reservoir_sizes_ml": [problem]})
            try:
                value = Decimal(str(size))
            except ArithmeticError:
                raise ValidationError({"reservoir_sizes_ml": [problem]}) from None
            if not value.is_finite() or value <= 0:
                raise ValidationError({"reservoir_sizes_ml": ["Each reservoir size must be more than 0 mL."]})


class PumpQuerySet(ClinicalRecordQuerySet):
    def implanted(self) -> PumpQuerySet:
        """Pumps in a patient now: not voided, not explanted."""
        return self.filter(voided_at__isnull=True, explanted_on__isnull=True)

    def watched(self) -> PumpQuerySet:
        """The pumps the clinic is watching: implanted, not voided, patient not voided.

        The one definition of the safety net: the alert scan, the digest, the
        worklists, the reports and the schedule all start from it, so a pump can
        never be in one and missing from another.
        """
        return self.implanted().filter(patient__voided_at__isnull=True)


class Pump(ClinicalRecord):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPLANTED = "explanted", "Explanted"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="pumps")
    model = models.ForeignKey(PumpModel, on_delete=models.PROTECT, related_name="pumps", verbose_name="Pump model")
    # Unique among pumps that are not voided (a constraint below): a pump entered in
    # error and voided must not block recording the real one.
    serial_number = models.CharField(max_length=50)
    reservoir_volume_ml = models.DecimalField(
        "Reservoir volume (mL)", max_digits=5, decimal_places=2, validators=[_POSITIVE_VOLUME]
    )
    low_reservoir_alarm_ml = models.DecimalField(
        "Low-reservoir alarm volume (mL)",
        max_digits=4,
        decimal_places=2,
        default=Decimal("2.0"),
        validators=[_POSITIVE_VOLUME],
        help_text="2 mL is the manufacturer default; some children need 4 mL",
    )
    implanted_on = models.DateField()
    pump_site = models.CharField(max_length=100, blank=True, help_text="e.g. right lower abdomen, subfascial")
    catheter_model = models.CharField(max_length=100, blank=True)
    catheter_tip_level = models.CharField(max_length=20, blank=True, help_text="Vertebral level, e.g. T10 or C5")
    eri_on = models.DateField(
        "Replacement indicator (ERI) date",
        null=True,
        blank=True,
        help_text="From interrogation, when the pump signals elective replacement",
    )
    explanted_on = models.DateField(null=True, blank=True, editable=False)
    off_label_reason = models.TextField(
        "Off-label reason",
        blank=True,
        help_text="Why this model is implanted outside its labelling (e.g. a patient younger than its labelled age)",
    )
    temporary_card_given_on = models.DateField("Temporary ID card given", null=True, blank=True)
    permanent_card_received_on = models.DateField("Permanent ID card received", null=True, blank=True)
    emergency_card_given_on = models.DateField("Emergency card given", null=True, blank=True)

    # Stored projection: written only by pumps.services.pump_recompute_projection.
    alarm_date = models.DateField(null=True, blank=True, editable=False, db_index=True)
    refill_due_on = models.DateField(null=True, blank=True, editable=False, db_index=True)
    battery_end_of_service_on = models.DateField(null=True, blank=True, editable=False, db_index=True)
    current_mode = models.CharField(max_length=20, blank=True, editable=False)
    current_daily_dose_mcg = models.DecimalField(max_digits=8, decimal_places=2, null=True, editable=False)
    current_drug = models.CharField(max_length=20, choices=Drug.choices, blank=True, editable=False)
    current_concentration_mcg_per_ml = models.DecimalField(max_digits=7, decimal_places=2, null=True, editable=False)
    last_refill_on = models.DateField(null=True, blank=True, editable=False)
    last_dose_change_on = models.DateField(null=True, blank=True, editable=False)
    next_visit_on = models.DateField(null=True, blank=True, editable=False, db_index=True)
    next_refill_appointment_on = models.DateField(null=True, blank=True, editable=False, db_index=True)

    WRITE_PERMISSION = PERMS.RECORD_SURGERY

    objects = PumpQuerySet.as_manager()  # type: ignore[assignment,misc]

    class Meta:
        ordering = ["-implanted_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["serial_number"],
                condition=Q(voided_at__isnull=True),
                name="pump_serial_unique_when_not_voided",
                violation_error_message="A pump with this serial number is already recorded.",
            ),
            # Spec: one implanted pump per patient, enforced by the database so that two
            # implants racing cannot both land.
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(voided_at__isnull=True, explanted_on__isnull=True),
                name="one_implanted_pump_per_patient",
                violation_error_message="This patient already has an implanted pump: explant or replace it first.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.serial_number}"

    def get_absolute_url(self) -> str:
        return reverse("pumps:detail", args=[self.pk])

    @property
    def status(self) -> str:
        return self.Status.EXPLANTED if self.explanted_on else self.Status.ACTIVE

    @property
    def is_implanted(self) -> bool:
        return self.explanted_on is None and not self.is_voided

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        errors |= not_in_future(self.implanted_on, "implanted_on", "Implant date")
        for field, label in (
            ("eri_on", "Replacement indicator date"),
            ("temporary_card_given_on", "Temporary card date"),
            ("permanent_card_received_on", "Permanent card date"),
            ("emergency_card_given_on", "Emergency card date"),
            ("explanted_on", "Explant date"),
        ):
            value = getattr(self, field)
            errors |= not_in_future(value, field, label)
            if value and self.implanted_on and value < self.implanted_on and field not in errors:
                errors[field] = f"{label} cannot be before the implant on {self.implanted_on:%Y-%m-%d}."
        errors |= self._volume_errors()
        if errors:
            raise ValidationError(errors)

    def _volume_errors(self) -> dict[str, str]:
        # Whether the volume is one of the model's catalogue sizes is checked by the
        # surgery services when a pump is implanted or its reservoir is edited, not here:
        # a later catalogue edit must never block recording on a pump already in a patient.
        errors: dict[str, str] = {}
        alarm_ml, reservoir_ml = self.low_reservoir_alarm_ml, self.reservoir_volume_ml
        if alarm_ml is not None and reservoir_ml is not None and alarm_ml >= reservoir_ml:
            errors["low_reservoir_alarm_ml"] = "The alarm volume must be less than the reservoir volume."
        return errors

    def reservoir_size_errors(self) -> dict[str, str]:
        """The reservoir volume must be one of the catalogue sizes of the pump's model."""
        if not self.model_id or self.reservoir_volume_ml is None:
            return {}
        sizes = self.model.reservoir_sizes()
        if sizes and self.reservoir_volume_ml not in sizes:
            return {
                "reservoir_volume_ml": (
                    f"The {self.model} comes in {self.model.reservoir_sizes_label}; "
                    f"{_fmt(self.reservoir_volume_ml)} mL is not one of them."
                )
            }
        return {}


class Complication(models.TextChoices):
    INFECTION = "infection", "Infection"
    CSF_LEAK = "csf_leak", "CSF leak"
    SEROMA = "seroma", "Seroma"
    WOUND_BREAKDOWN = "wound_breakdown", "Wound breakdown"
    CATHETER_PROBLEM = "catheter_problem", "Catheter problem"
    OTHER = "other", "Other"


class Surgery(ClinicalRecord):
    class Kind(models.TextChoices):
        IMPLANT = "implant", "Implant"
        PUMP_REPLACEMENT = "pump_replacement", "Pump replacement"
        CATHETER_REVISION = "catheter_revision", "Catheter revision"
        EXPLANT = "explant", "Explant"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="pump_surgeries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The pump implanted (implant, replacement) or operated on (revision, explant).
    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="surgeries")
    # For a replacement: the pump taken out.
    replaced_pump = models.ForeignKey(
        Pump, null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by_surgeries"
    )
    performed_on = models.DateField()
    surgeon = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="pump_surgeries"
    )
    catheter_revised = models.BooleanField(default=False)
    # For a catheter revision: the catheter as it was before, so that voiding the
    # revision puts the pump's catheter back as the remaining records say.
    catheter_model_before = models.CharField(max_length=100, blank=True, editable=False)
    catheter_tip_level_before = models.CharField(max_length=20, blank=True, editable=False)
    complications = models.JSONField(default=list, blank=True)
    complications_other = models.CharField("Other complication", max_length=200, blank=True)
    notes = models.TextField(blank=True)

    WRITE_PERMISSION = PERMS.RECORD_SURGERY

    class Meta:
        ordering = ["-performed_on", "-pk"]
        verbose_name_plural = "surgeries"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.performed_on:%Y-%m-%d}"

    @property
    def complication_labels(self) -> list[str]:
        labels = dict(Complication.choices)
        names = [labels.get(c, c) for c in self.complications or [] if c != Complication.OTHER]
        if Complication.OTHER in (self.complications or []):
            names.append(f"Other: {self.complications_other}")
        return names

    def clean(self) -> None:
        errors: dict[str, Any] = not_in_future(self.performed_on, "performed_on", "Surgery date")
        complications = self.complications or []
        if not isinstance(complications, list) or any(c not in Complication.values for c in complications):
            errors["complications"] = f"Choose complications from: {', '.join(Complication.values)}."
        elif Complication.OTHER in complications and not self.complications_other.strip():
            errors["complications_other"] = "Describe the other complication."
        if errors:
            raise ValidationError(errors)


class CheckStatus(models.TextChoices):
    """The independent second check of a refill or dose change (spec "Programming safety")."""

    NOT_REQUIRED = "not_required", "Not required"
    AWAITING_SECOND_CHECK = "awaiting_second_check", "Awaiting a second check"
    CHECKED = "checked", "Checked"
    DISAGREED = "disagreed", "Second checker disagreed"


class ObservationSign(models.TextChoices):
    """The post-refill checklist: signs of an overdose (a pocket fill) or of withdrawal."""

    NONE_OBSERVED = "none_observed", "None observed"
    # Overdose (e.g. drug injected into the pocket, or the catheter access port).
    DROWSINESS = "drowsiness", "Drowsiness or reduced consciousness"
    DIZZINESS = "dizziness", "Dizziness or light-headedness"
    HYPOTONIA = "hypotonia", "Marked floppiness (hypotonia)"
    RESPIRATORY_DEPRESSION = "respiratory_depression", "Slow or shallow breathing"
    BRADYCARDIA_HYPOTENSION = "bradycardia_hypotension", "Slow pulse or low blood pressure"
    NAUSEA_VOMITING = "nausea_vomiting", "Nausea or vomiting"
    # Withdrawal (e.g. a pump left stopped, a concentration not reprogrammed).
    INCREASED_SPASTICITY = "increased_spasticity", "Increased tone or spasms"
    ITCHING = "itching", "Itching without a rash"
    FEVER = "fever", "Fever"
    AGITATION_CONFUSION = "agitation_confusion", "Agitation or confusion"
    TACHYCARDIA = "tachycardia", "Fast pulse"
    SEIZURE = "seizure", "Seizure"


class ProgrammingCheckFields(models.Model):
    """What the clinician programmer reported after the session, and the second check.

    The programmer's numbers are compared with ``pumps.dosing`` when given
    (``dosing.programmer_mismatches``); empty means "not checked against the programmer".
    The second check is written only by ``pumps.services.second_check_record``.
    """

    programmer_alarm_date = models.DateField(
        "Alarm date on the programmer", null=True, blank=True, help_text="As the programmer shows it after the session"
    )
    programmer_reservoir_volume_ml = models.DecimalField(
        "Reservoir volume on the programmer (mL)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[_NOT_NEGATIVE_VOLUME],
    )
    programmer_daily_dose_mcg = models.DecimalField(
        "Daily dose on the programmer (mcg/day)",
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[_POSITIVE_DOSE],
    )
    check_status = models.CharField(
        max_length=30, choices=CheckStatus.choices, default=CheckStatus.NOT_REQUIRED, editable=False
    )
    second_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    second_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    second_check_note = models.TextField(blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def checked_against_programmer(self) -> bool:
        return any(
            value is not None
            for value in (
                self.programmer_alarm_date,
                self.programmer_reservoir_volume_ml,
                self.programmer_daily_dose_mcg,
            )
        )

    @property
    def awaits_second_check(self) -> bool:
        return self.check_status == CheckStatus.AWAITING_SECOND_CHECK


class DoseChange(ProgrammingCheckFields, ClinicalRecord):
    """A dose program, in force from the start of ``changed_on`` until the next one."""

    class Mode(models.TextChoices):
        SIMPLE_CONTINUOUS = "simple_continuous", "Simple continuous"
        FLEX = "flex", "Flex (rates by time of day)"

    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="dose_changes")
    changed_on = models.DateField("Date of change")
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.SIMPLE_CONTINUOUS)
    # Given for simple continuous; computed from the steps for flex.
    daily_dose_mcg = models.DecimalField(
        "Daily dose (mcg/day)", max_digits=8, decimal_places=2, blank=True, validators=[_POSITIVE_DOSE]
    )
    flex_steps = models.JSONField(default=list, blank=True, help_text='[{"start_time": "HH:MM", "rate_mcg_per_hour"}]')
    reason = models.TextField("Reason for the change", blank=True)
    confirmation_reason = models.TextField(
        blank=True, help_text="Needed for a change above the clinic's thresholds (e.g. more than 20%)"
    )
    side_effects = models.TextField(blank=True)
    tone_notes = models.TextField("Tone notes", blank=True)
    next_visit_on = models.DateField("Next titration visit", null=True, blank=True)
    # Computed when recorded (what was shown and printed then).
    change_percent = models.DecimalField(max_digits=9, decimal_places=1, null=True, editable=False)
    alarm_date = models.DateField(null=True, blank=True, editable=False)
    refill_due_on = models.DateField(null=True, blank=True, editable=False)

    WRITE_PERMISSION = PERMS.CHANGE_DOSE

    class Meta:
        ordering = ["-changed_on", "-pk"]
        # The scan's second-check source looks for the few records still open, on every chunk:
        # a partial index keeps that an index lookup instead of a scan of every dosechange.
        indexes = [
            models.Index(
                fields=["pump"],
                condition=Q(check_status__in=("awaiting_second_check", "disagreed"), voided_at__isnull=True),
                name="dosechange_open_check_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{_fmt(self.daily_dose_mcg)} mcg/day from {self.changed_on:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("pumps:dose_change_detail", args=[self.pk])

    def parsed_flex_steps(self) -> list[dosing.FlexStep]:
        return dosing.parse_flex_steps(self.flex_steps)

    def clean(self) -> None:
        errors: dict[str, Any] = not_in_future(self.changed_on, "changed_on", "The date of the change")
        if self.mode == self.Mode.FLEX:
            errors |= self._normalise_flex()
        else:
            self.flex_steps = []
            if self.daily_dose_mcg is None:
                errors["daily_dose_mcg"] = "Enter the daily dose in mcg/day."
        if self.next_visit_on and self.changed_on and self.next_visit_on < self.changed_on:
            errors["next_visit_on"] = "The next visit cannot be before this one."
        pump = _assigned_pump(self)
        if pump is not None and self.changed_on:
            errors |= _date_within_pump(pump, self.changed_on, "changed_on", "A dose change", self._state.adding)
        if errors:
            raise ValidationError(errors)

    def _normalise_flex(self) -> dict[str, Any]:
        """Check the steps and set the daily dose from them (never typed for flex)."""
        try:
            steps = dosing.parse_flex_steps(self.flex_steps)
        except dosing.FlexStepError as error:
            return {"flex_steps": error.messages}
        problems = dosing.flex_step_errors(steps)
        if problems:
            return {"flex_steps": problems}
        self.flex_steps = [
            {"start_time": f"{step.start_time:%H:%M}", "rate_mcg_per_hour": str(step.rate_mcg_per_hour)}
            for step in steps
        ]
        self.daily_dose_mcg = dosing.flex_daily_dose_mcg(steps)
        return {}


class Refill(ProgrammingCheckFields, ClinicalRecord):
    Drug = Drug

    class DeliveryFlag(models.TextChoices):
        NONE = dosing.DELIVERY_FLAG_NONE, "Within range"
        OVER = dosing.DELIVERY_FLAG_OVER, "Over-delivery"
        UNDER = dosing.DELIVERY_FLAG_UNDER, "Under-delivery"
        NOT_ASSESSABLE = dosing.DELIVERY_FLAG_NOT_ASSESSABLE, "Not assessable: the pump may have run dry"

    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="refills")
    refilled_on = models.DateField("Refill date")
    aspirated_volume_ml = models.DecimalField(
        "Aspirated residual volume (mL)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[_NOT_NEGATIVE_VOLUME],
        help_text="Removed and discarded; empty only for the first fill at implant",
    )
    volume_added_ml = models.DecimalField(
        "Volume added (mL)", max_digits=5, decimal_places=2, validators=[_POSITIVE_VOLUME]
    )
    drug = models.CharField(max_length=20, choices=Drug.choices)
    concentration_mcg_per_ml = models.DecimalField(
        "Concentration (mcg/mL)", max_digits=7, decimal_places=2, validators=[_POSITIVE_CONCENTRATION]
    )
    dilution_note = models.TextField(blank=True, help_text="Required for a concentration other than 50/500/1000/2000")
    lot_number = models.CharField(max_length=50)
    reservoir_port_access_confirmed = models.BooleanField(
        "Central reservoir fill port access confirmed",
        default=False,
        help_text="Template or ultrasound used, needle to the stop, aspiration confirmed placement",
    )
    next_refill_appointment_on = models.DateField("Next refill appointment", null=True, blank=True)
    concentration_reprogrammed_confirmed = models.BooleanField(
        "Programmer set to the new concentration",
        default=False,
        help_text="Needed when the concentration differs from the previous fill's",
    )
    pump_running_confirmed = models.BooleanField(
        "Pump running confirmed",
        default=False,
        help_text="The programmer shows the pump running: no stopped state, no pending program",
    )
    observation_minutes = models.PositiveSmallIntegerField(
        "Observed after the refill (minutes)",
        null=True,
        blank=True,
        default=15,
        help_text="Watching for a pocket fill (overdose) or withdrawal",
    )
    observation_signs = models.JSONField(
        "Signs observed",
        default=list,
        blank=True,
        help_text='Codes from the withdrawal and overdose checklist, or ["none_observed"]',
    )
    is_first_fill = models.BooleanField(default=False, editable=False)
    # Computed when recorded (what was shown and printed then).
    expected_delivered_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, editable=False)
    actual_delivered_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, editable=False)
    expected_residual_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, editable=False)
    delivery_deviation_percent = models.DecimalField(max_digits=9, decimal_places=1, null=True, editable=False)
    delivery_flag = models.CharField(
        max_length=20, choices=DeliveryFlag.choices, default=DeliveryFlag.NONE, editable=False
    )
    alarm_date = models.DateField(null=True, blank=True, editable=False)
    refill_due_on = models.DateField(null=True, blank=True, editable=False)

    WRITE_PERMISSION = PERMS.RECORD_REFILL

    class Meta:
        ordering = ["-refilled_on", "-pk"]
        # The scan's second-check source looks for the few records still open, on every chunk:
        # a partial index keeps that an index lookup instead of a scan of every refill.
        indexes = [
            models.Index(
                fields=["pump"],
                condition=Q(check_status__in=("awaiting_second_check", "disagreed"), voided_at__isnull=True),
                name="refill_open_check_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Refill on {self.refilled_on:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("pumps:refill_detail", args=[self.pk])

    @property
    def is_flagged(self) -> bool:
        return self.delivery_flag != self.DeliveryFlag.NONE

    @property
    def may_have_run_dry(self) -> bool:
        return self.delivery_flag == self.DeliveryFlag.NOT_ASSESSABLE

    @property
    def delivery_note(self) -> str:
        """What the delivery check means, in words (page, printout and API)."""
        if self.may_have_run_dry:
            return (
                "Refilled after the projected empty day: the pump may have run dry. Check for signs of "
                "baclofen withdrawal; the delivery cannot be assessed from this residual."
            )
        if self.delivery_flag in (self.DeliveryFlag.OVER, self.DeliveryFlag.UNDER):
            return f"{self.get_delivery_flag_display()}: {self.delivery_deviation_percent}% from the projection."
        return ""

    def clean(self) -> None:
        errors: dict[str, Any] = not_in_future(self.refilled_on, "refilled_on", "The refill date")
        concentration = self.concentration_mcg_per_ml
        if (
            concentration is not None
            and concentration > 0
            and concentration not in STANDARD_CONCENTRATIONS_MCG_PER_ML
            and not self.dilution_note.strip()
        ):
            errors["dilution_note"] = (
                f"{_fmt(concentration)} mcg/mL is not a standard concentration (50, 500, 1000 or 2000): "
                "describe the dilution."
            )
        errors |= self._observation_errors()
        if self.next_refill_appointment_on and self.refilled_on and self.next_refill_appointment_on < self.refilled_on:
            errors["next_refill_appointment_on"] = "The next appointment cannot be before this refill."
        pump = _assigned_pump(self)
        if pump is not None:
            errors |= self._pump_errors(pump)
        if errors:
            raise ValidationError(errors)

    def _observation_errors(self) -> dict[str, Any]:
        """The checklist holds known codes; "none observed" stands alone."""
        signs = self.observation_signs
        if signs in (None, ""):
            self.observation_signs = signs = []
        if not isinstance(signs, list) or any(sign not in ObservationSign.values for sign in signs):
            return {"observation_signs": [f"Choose the signs from: {', '.join(ObservationSign.values)}."]}
        if ObservationSign.NONE_OBSERVED in signs and len(signs) > 1:
            return {"observation_signs": ['Either tick the signs observed or "None observed", not both.']}
        return {}

    @property
    def observation_sign_labels(self) -> list[str]:
        labels = dict(ObservationSign.choices)
        return [labels.get(sign, sign) for sign in self.observation_signs or []]

    def _pump_errors(self, pump: Pump) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        if pump.reservoir_volume_ml is None or pump.low_reservoir_alarm_ml is None or pump.implanted_on is None:
            return errors  # the pump's own errors are reported on its fields
        added = self.volume_added_ml
        if added is not None and added > pump.reservoir_volume_ml:
            errors["volume_added_ml"] = (
                f"{_fmt(added)} mL is more than the reservoir holds ({_fmt(pump.reservoir_volume_ml)} mL)."
            )
        elif added is not None and added <= pump.low_reservoir_alarm_ml:
            errors["volume_added_ml"] = (
                f"The volume added must be more than the low-reservoir alarm volume "
                f"({_fmt(pump.low_reservoir_alarm_ml)} mL), or the alarm would sound at once."
            )
        aspirated = self.aspirated_volume_ml
        if aspirated is not None and aspirated > pump.reservoir_volume_ml:
            errors["aspirated_volume_ml"] = (
                f"{_fmt(aspirated)} mL is more than the reservoir holds ({_fmt(pump.reservoir_volume_ml)} mL)."
            )
        if self.refilled_on:
            errors |= _date_within_pump(pump, self.refilled_on, "refilled_on", "A refill", self._state.adding)
        return errors


def _assigned_pump(record: DoseChange | Refill) -> Pump | None:
    """The record's pump, saved or not (an implant checks its first fill before saving)."""
    try:
        return record.pump
    except Pump.DoesNotExist:
        return None


def _date_within_pump(pump: Pump, on: Any, field: str, what: str, adding: bool) -> dict[str, str]:
    """A dose change or refill must fall while the pump is in the patient."""
    if pump.implanted_on is None:
        return {}
    if on < pump.implanted_on:
        return {field: f"{what} cannot be dated before the implant on {pump.implanted_on:%Y-%m-%d}."}
    if adding and pump.explanted_on:
        return {field: f"This pump was explanted on {pump.explanted_on:%Y-%m-%d}: nothing more can be recorded on it."}
    return {}
