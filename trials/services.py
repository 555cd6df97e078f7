"""Every write with rules for trials, tone scores and goals.

Each function is one transaction: a ValidationError anywhere leaves nothing saved. Each
checks the acting user's permission itself (the views and the API check it too), and
each refreshes the patient's pathway stage, because trials move it.

A signed trial is locked: only ``trial_amend`` changes it, with a reason that goes into
every history row it writes and into a ``TrialAmendment`` the trial page lists.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from patients.services import patient_refresh_stage
from spasticity.audit import audited_save, check_version, record_save, void_record
from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today
from trials.models import (
    Goal,
    GoalReview,
    MuscleGroup,
    PennSpasmScore,
    Side,
    ToneAssessment,
    Trial,
    TrialAmendment,
    TrialOutcome,
    mas_grade_message,
    mas_grade_values,
    minutes_validators,
)

# Fields a doctor may correct on a signed trial (everything clinical; not the patient).
AMENDABLE_FIELDS = frozenset(
    {
        "performed_on",
        "planned_start_time",
        "bolus_dose_mcg",
        "bolus_confirmation_reason",
        "route",
        "team_present",
        "fluoroscopy_used",
        "video_recorded",
        "adverse_events",
        "outcome",
        "outcome_note",
    }
)
GRID_EDIT_REASON = "Changed in the tone grid"
GRID_CLEAR_REASON = "Cleared in the tone grid"

_amending: contextvars.ContextVar[bool] = contextvars.ContextVar("trial_amendment_in_progress", default=False)


def amendment_in_progress() -> bool:
    """True inside ``trial_amend``: the after-void hook then lets a signed trial's score be voided."""
    return _amending.get()


@contextmanager
def _amendment() -> Iterator[None]:
    token = _amending.set(True)
    try:
        yield
    finally:
        _amending.reset(token)


@dataclass(frozen=True)
class ToneCell:
    """One cell of the tone grid; ``mas`` "" clears it."""

    muscle_group: str
    side: str
    minutes_after_bolus: int
    mas: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.muscle_group, self.side, self.minutes_after_bolus)

    def label(self) -> str:
        muscle = MuscleGroup(self.muscle_group).label if self.muscle_group in MuscleGroup.values else self.muscle_group
        return f"{muscle} {self.side} at {self.minutes_after_bolus} min"


def _require(by: Any, permission: str, message: str = "Your role does not allow this.") -> None:
    if not by.has_perm(permission):
        raise PermissionDenied(message)


def _locked(trial: Trial) -> Trial:
    """The trial's current row, locked: cell saves and sign-off on one trial take turns."""
    return Trial.objects.select_for_update(of=("self",)).select_related("patient", "signed_by").get(pk=trial.pk)


def _refuse_if_voided(trial: Trial) -> None:
    if trial.is_voided:
        message = f"This trial was voided ({trial.void_reason}); it takes no changes."
        raise ValidationError({NON_FIELD_ERRORS: [message]})


def _refuse_if_signed(trial: Trial) -> None:
    """A signed (or voided) trial is locked."""
    _refuse_if_voided(trial)
    if trial.is_signed:
        signed_on = f" on {timezone.localdate(trial.signed_at):%Y-%m-%d}" if trial.signed_at else ""
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"This trial was signed {trial.outcome}{signed_on} and is locked: "
                    "a rehab doctor corrects it through an amendment with a reason."
                ]
            }
        )


def _refuse_before_trial_day(trial: Trial, today: date) -> None:
    if trial.performed_on > today:
        raise ValidationError(
            {
                "performed_on": [
                    f"The trial is booked for {trial.performed_on:%Y-%m-%d}: a trial date in the future cannot have "
                    "scores, observations or an outcome."
                ]
            }
        )


def _refuse_second_trial_that_day(trial: Trial) -> None:
    others = Trial.objects.active().filter(patient_id=trial.patient_id, performed_on=trial.performed_on)
    if trial.pk:
        others = others.exclude(pk=trial.pk)
    if others.exists():
        raise ValidationError({"performed_on": ["This patient already has a trial on that date."]})


def _has_observations(trial: Trial) -> bool:
    return bool(trial.fluoroscopy_used or trial.video_recorded or trial.adverse_events)


def _has_scores(trial: Trial) -> bool:
    return ToneAssessment.objects.active().filter(trial_id=trial.pk).exists()


@transaction.atomic
def trial_plan(
    trial: Trial, *, by: Any, expected_version: int | None = None, reason: str = "", today: date | None = None
) -> Trial:
    """Book a trial, or change an unsigned trial's plan (date, time, bolus, route, team).

    A trial may lie in the future only as a plan: once it has scores or observations
    (fluoroscopy, video, adverse events) its date cannot be in the future.
    """
    _require(by, PERMS.PLAN_TRIAL)
    today = today or clinic_today()
    if trial.pk:
        _refuse_if_signed(_locked(trial))
    if _has_observations(trial) or (trial.pk and _has_scores(trial)):
        _refuse_before_trial_day(trial, today)
    _refuse_second_trial_that_day(trial)
    record_save(trial, by=by, expected_version=expected_version, reason=reason)
    patient_refresh_stage(trial.patient, by=by, today=today)
    return trial


@transaction.atomic
def trial_observations_save(
    trial: Trial, *, by: Any, expected_version: int | None = None, reason: str = "", today: date | None = None
) -> Trial:
    """Record fluoroscopy, video and adverse events on the trial day."""
    _require(by, PERMS.RECORD_TONE)
    today = today or clinic_today()
    _refuse_if_signed(_locked(trial))
    _refuse_before_trial_day(trial, today)
    record_save(trial, by=by, expected_version=expected_version, reason=reason)
    patient_refresh_stage(trial.patient, by=by, today=today)
    return trial


@dataclass(frozen=True)
class TrialObservations:
    """Fluoroscopy, video and adverse events given with a sign-off; None keeps what is recorded."""

    fluoroscopy_used: bool | None = None
    video_recorded: bool | None = None
    adverse_events: list[dict[str, str]] | None = None


OBSERVATIONS_AT_SIGN_OFF_REASON = "Observations recorded at sign-off"


def _apply_observations(trial: Trial, observations: TrialObservations) -> bool:
    """Put the given observations on ``trial``; True when that changes what is recorded."""
    changed = False
    for field in ("fluoroscopy_used", "video_recorded", "adverse_events"):
        value = getattr(observations, field)
        if value is not None and getattr(trial, field) != value:
            setattr(trial, field, value)
            changed = True
    return changed


def cell_errors(cell: ToneCell) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if cell.muscle_group not in MuscleGroup.values:
        errors["muscle_group"] = [f"Unknown muscle group {cell.muscle_group!r}."]
    if cell.side not in Side.values:
        errors["side"] = ["Side must be left or right."]
    for validator in minutes_validators:
        try:
            validator(cell.minutes_after_bolus)
        except ValidationError as error:
            errors.setdefault("minutes_after_bolus", []).extend(error.messages)
    if cell.mas and cell.mas not in mas_grade_values():
        errors["mas"] = [mas_grade_message()]
    return errors


def _active_score(trial: Trial, cell: ToneCell) -> ToneAssessment | None:
    return (
        ToneAssessment.objects.active()
        .filter(trial=trial, muscle_group=cell.muscle_group, side=cell.side)
        .filter(minutes_after_bolus=cell.minutes_after_bolus)
        .first()
    )


def _apply_cell(trial: Trial, cell: ToneCell, *, by: Any, expected_version: int | None, reason: str) -> str | None:
    """Upsert or clear one score; returns the grade it replaced ("" for none), None when unchanged.

    ``expected_version`` is the version of the score the editor saw (0: the cell was empty);
    None skips the check.
    """
    errors = cell_errors(cell)
    if errors:
        raise ValidationError(errors)
    existing = (
        ToneAssessment.objects.active()
        .filter(
            trial=trial, muscle_group=cell.muscle_group, side=cell.side, minutes_after_bolus=cell.minutes_after_bolus
        )
        .first()
    )
    if expected_version is not None and (existing.version if existing else 0) != expected_version:
        raise StaleCellError(existing.mas if existing else "")
    old = existing.mas if existing else ""
    if old == cell.mas:
        return None
    if existing and not cell.mas:
        void_record(existing, by=by, reason=reason or GRID_CLEAR_REASON)
    elif existing:
        existing.mas = cell.mas
        audited_save(existing, by=by, reason=reason or GRID_EDIT_REASON)
    else:
        score = ToneAssessment(
            trial=trial,
            muscle_group=cell.muscle_group,
            side=cell.side,
            minutes_after_bolus=cell.minutes_after_bolus,
            mas=cell.mas,
        )
        audited_save(score, by=by, reason=reason)
    return old


class StaleCellError(ValidationError):
    """Someone else changed the cell after the editor's page showed it."""

    def __init__(self, current_mas: str) -> None:
        self.current_mas = current_mas
        shown = f"now {current_mas}" if current_mas else "now empty"
        super().__init__({"version": [f"Someone else changed this score meanwhile ({shown}). Enter it again."]})


@transaction.atomic
def trial_score_set(
    trial: Trial, *, by: Any, cell: ToneCell, expected_version: int | None = None, today: date | None = None
) -> ToneAssessment | None:
    """Set, change or clear one cell of the tone grid; returns the cell's score (None when cleared).

    Changing a grade is an audited edit of that score's row; clearing it voids the row.
    """
    _require(by, PERMS.RECORD_TONE)
    today = today or clinic_today()
    locked = _locked(trial)
    _refuse_if_signed(locked)
    _refuse_before_trial_day(locked, today)
    _apply_cell(locked, cell, by=by, expected_version=expected_version, reason="")
    patient_refresh_stage(locked.patient, by=by, today=today)
    return (
        ToneAssessment.objects.active()
        .filter(
            trial=locked, muscle_group=cell.muscle_group, side=cell.side, minutes_after_bolus=cell.minutes_after_bolus
        )
        .first()
    )


def _refuse_duplicate_cells(cells: Sequence[ToneCell]) -> None:
    seen: set[tuple[str, str, int]] = set()
    for cell in cells:
        if cell.key in seen:
            raise ValidationError({"assessments": [f"{cell.label()} is listed twice."]})
        seen.add(cell.key)


@transaction.atomic
def trial_scores_replace(
    trial: Trial, *, by: Any, cells: Sequence[ToneCell], reason: str = "", today: date | None = None
) -> None:
    """Make the trial's scores exactly ``cells`` (the API's nested ``assessments``).

    New cells are created, changed ones edited, and scores not listed are voided.
    """
    _require(by, PERMS.RECORD_TONE)
    today = today or clinic_today()
    locked = _locked(trial)
    _refuse_if_signed(locked)
    _refuse_duplicate_cells(cells)
    if cells:
        _refuse_before_trial_day(locked, today)
    wanted = {cell.key for cell in cells}
    for score in ToneAssessment.objects.active().filter(trial=locked):
        if (score.muscle_group, score.side, score.minutes_after_bolus) not in wanted:
            void_record(score, by=by, reason=reason or "Removed from the trial's scores")
    for cell in cells:
        _apply_cell(locked, cell, by=by, expected_version=None, reason=reason)
    patient_refresh_stage(locked.patient, by=by, today=today)


def _apply_spasm(trial: Trial, minutes: int, frequency: int | None, *, by: Any, expected_version: int | None) -> None:
    errors = cell_errors(ToneCell(MuscleGroup.OTHER, Side.LEFT, minutes, ""))
    if errors:
        raise ValidationError(errors)
    if frequency is not None and frequency not in PennSpasmScore.Frequency.values:
        raise ValidationError({"frequency": ["Penn spasm frequency is 0 to 4."]})
    existing = PennSpasmScore.objects.active().filter(trial=trial, minutes_after_bolus=minutes).first()
    if expected_version is not None and (existing.version if existing else 0) != expected_version:
        shown = f"now {existing.frequency}" if existing else "now empty"
        raise ValidationError(
            {"version": [f"Someone else changed this spasm score meanwhile ({shown}). Enter it again."]}
        )
    if existing and frequency is None:
        void_record(existing, by=by, reason=GRID_CLEAR_REASON)
    elif existing and existing.frequency != frequency:
        existing.frequency = frequency  # type: ignore[assignment]
        audited_save(existing, by=by, reason=GRID_EDIT_REASON)
    elif not existing and frequency is not None:
        audited_save(PennSpasmScore(trial=trial, minutes_after_bolus=minutes, frequency=frequency), by=by)


@transaction.atomic
def trial_spasm_score_set(
    trial: Trial,
    *,
    by: Any,
    minutes_after_bolus: int,
    frequency: int | None,
    expected_version: int | None = None,
    today: date | None = None,
) -> PennSpasmScore | None:
    """Set, change or clear the Penn spasm frequency at one timepoint."""
    _require(by, PERMS.RECORD_TONE)
    today = today or clinic_today()
    locked = _locked(trial)
    _refuse_if_signed(locked)
    _refuse_before_trial_day(locked, today)
    _apply_spasm(locked, minutes_after_bolus, frequency, by=by, expected_version=expected_version)
    patient_refresh_stage(locked.patient, by=by, today=today)
    return PennSpasmScore.objects.active().filter(trial=locked, minutes_after_bolus=minutes_after_bolus).first()


@transaction.atomic
def trial_sign_off(
    trial: Trial,
    *,
    by: Any,
    outcome: str,
    note: str,
    observations: TrialObservations | None = None,
    observations_reason: str = "",
    expected_version: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> Trial:
    """A rehab doctor signs the outcome; the trial is then locked.

    1. The outcome needs a note; it may differ from the suggestion (the page says so).
    2. The version is checked before anything is saved: a signature from a page someone has
       saved since is refused.
    3. ``observations`` sent with the signature (the page's Sign button submits the
       observations form too) are saved first through ``trial_observations_save``, as the
       signer's own audited change with ``observations_reason``: adverse events ticked but
       not yet saved are signed with the trial, never dropped. If they are invalid, nothing
       is saved and the trial stays unsigned.
    4. A positive outcome records the bolus as the effective bolus, from which the pump's
       starting dose is suggested.
    """
    _require(by, PERMS.SIGN_TRIAL, "Only a rehab doctor signs a trial outcome.")
    today = today or clinic_today()
    locked = _locked(trial)
    _refuse_if_voided(locked)
    if locked.is_signed:
        raise ValidationError({"outcome": ["This trial is already signed; correct it through an amendment."]})
    errors: dict[str, list[str]] = {}
    if outcome not in TrialOutcome.values:
        errors["outcome"] = ["Choose positive, negative or inconclusive."]
    if not note.strip():
        errors["note"] = ["Add a note: what the team saw and why this outcome."]
    if errors:
        raise ValidationError(errors)
    _refuse_before_trial_day(locked, today)
    check_version(locked, expected_version)
    if observations is not None and _apply_observations(locked, observations):
        reason = observations_reason.strip() or OBSERVATIONS_AT_SIGN_OFF_REASON
        trial_observations_save(locked, by=by, reason=reason, today=today)
    locked.outcome = outcome
    locked.outcome_note = note.strip()
    locked.signed_by = by
    locked.signed_at = now or timezone.now()
    locked.effective_bolus_mcg = locked.bolus_dose_mcg if outcome == TrialOutcome.POSITIVE else None
    record_save(locked, by=by, reason=f"Signed {outcome}")
    patient_refresh_stage(locked.patient, by=by, today=today)
    return locked


def _amend_fields(trial: Trial, changes: Mapping[str, Any]) -> list[str]:
    unknown = sorted(set(changes) - AMENDABLE_FIELDS)
    if unknown:
        raise ValidationError({field: ["This cannot be amended."] for field in unknown})
    if "outcome" in changes and changes["outcome"] not in TrialOutcome.values:
        raise ValidationError({"outcome": ["A signed trial keeps an outcome: positive, negative or inconclusive."]})
    summary = []
    for field, value in changes.items():
        old = getattr(trial, field)
        if old != value:
            setattr(trial, field, value)
            summary.append(f"{field}: {_shown(old)} → {_shown(value)}")
    trial.effective_bolus_mcg = trial.bolus_dose_mcg if trial.outcome == TrialOutcome.POSITIVE else None
    return summary


def _shown(value: Any) -> str:
    return "—" if value in ("", None, []) else str(value)


@transaction.atomic
def trial_amend(
    trial: Trial,
    *,
    by: Any,
    reason: str,
    changes: Mapping[str, Any] | None = None,
    cells: Sequence[ToneCell] = (),
    expected_version: int | None = None,
    today: date | None = None,
) -> Trial:
    """Correct a signed trial: its fields and/or tone scores, with a reason.

    1. Only a rehab doctor amends, and only a signed trial (an unsigned one is edited directly).
    2. Field changes are saved as one audited edit of the trial; each changed score as an
       audited edit (or voiding) of its row; every history row carries the reason.
    3. A ``TrialAmendment`` records who, why and a summary of what changed; an amendment
       that changes nothing is refused.
    """
    _require(by, PERMS.SIGN_TRIAL, "Only a rehab doctor amends a signed trial.")
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the signed trial is being amended."]})
    today = today or clinic_today()
    locked = _locked(trial)
    _refuse_if_voided(locked)
    if not locked.is_signed:
        raise ValidationError({NON_FIELD_ERRORS: ["This trial is not signed yet: edit it directly."]})
    check_version(locked, expected_version)
    history_reason = f"Amendment: {reason.strip()}"
    summary = _amend_fields(locked, changes or {})
    if summary:
        audited_save(locked, by=by, reason=history_reason)
    _refuse_duplicate_cells(cells)
    with _amendment():
        for cell in cells:
            old = _apply_cell(locked, cell, by=by, expected_version=None, reason=history_reason)
            if old is not None:
                summary.append(f"{cell.label()}: {_shown(old)} → {_shown(cell.mas)}")
    if not summary:
        raise ValidationError({NON_FIELD_ERRORS: ["Nothing was changed, so no amendment was recorded."]})
    if _has_scores(locked):
        _refuse_before_trial_day(locked, today)
    amendment = TrialAmendment(trial=locked, amended_by=by, reason=reason.strip(), summary="\n".join(summary))
    audited_save(amendment, by=by, reason=history_reason)
    patient_refresh_stage(locked.patient, by=by, today=today)
    return locked


def refuse_voiding_part_of_signed_trial(record: Any, by: Any) -> None:
    """After-void hook for scores: a signed trial's scores change only through an amendment."""
    if not amendment_in_progress() and record.trial.is_signed:
        raise ValidationError({"void_reason": ["This belongs to a signed trial: correct it through an amendment."]})
    patient_refresh_stage(record.trial.patient, by=by)


def after_trial_voided(trial: Any, by: Any) -> None:
    """After-void hook for trials: the stage follows. Who may void a trial at all (the rehab
    doctor, signed or not) is ``void_record``'s check of ``PERMS.VOID_TRIAL``."""
    patient_refresh_stage(trial.patient, by=by)


@transaction.atomic
def goal_save(goal: Goal, *, by: Any, expected_version: int | None = None, reason: str = "") -> Goal:
    """Set a goal or edit it (domain, description, level descriptions, weights, baseline)."""
    _require(by, PERMS.MANAGE_GOAL)
    record_save(goal, by=by, expected_version=expected_version, reason=reason)
    patient_refresh_stage(goal.patient, by=by)
    return goal


def _refuse_second_review_that_day(goal: Goal, reviewed_on: date, exclude_pk: int | None = None) -> None:
    same_day = GoalReview.objects.active().filter(goal=goal, reviewed_on=reviewed_on).exclude(pk=exclude_pk)
    if same_day.exists():
        raise ValidationError({"reviewed_on": [f"This goal was already reviewed on {reviewed_on:%Y-%m-%d}."]})


@transaction.atomic
def goal_review_add(goal: Goal, *, by: Any, reviewed_on: date, level: int, note: str = "") -> GoalReview:
    """Record the level a goal reached at a review (−2 … +2, on or after the day it was set)."""
    _require(by, PERMS.MANAGE_GOAL)
    if goal.is_voided:
        raise ValidationError({NON_FIELD_ERRORS: ["This goal is voided."]})
    if reviewed_on is not None:
        _refuse_second_review_that_day(goal, reviewed_on)
    review = GoalReview(goal=goal, reviewed_on=reviewed_on, level=level, note=note)
    audited_save(review, by=by)
    patient_refresh_stage(goal.patient, by=by)
    return review


@dataclass(frozen=True)
class ReviewInput:
    reviewed_on: date
    level: int
    note: str = ""


@transaction.atomic
def goal_reviews_replace(goal: Goal, *, by: Any, reviews: Sequence[ReviewInput], reason: str = "") -> None:
    """Make the goal's reviews exactly ``reviews`` (the API's nested ``reviews``), one per date."""
    _require(by, PERMS.MANAGE_GOAL)
    dates = [review.reviewed_on for review in reviews]
    if len(set(dates)) != len(dates):
        raise ValidationError({"reviews": ["Give one review per date."]})
    existing = {r.reviewed_on: r for r in GoalReview.objects.active().filter(goal=goal)}
    for reviewed_on, review in existing.items():
        if reviewed_on not in dates:
            void_record(review, by=by, reason=reason or "Removed from the goal's reviews")
    for wanted in reviews:
        current = existing.get(wanted.reviewed_on)
        if current is None:
            goal_review_add(goal, by=by, reviewed_on=wanted.reviewed_on, level=wanted.level, note=wanted.note)
        elif (current.level, current.note) != (wanted.level, wanted.note):
            current.level, current.note = wanted.level, wanted.note
            audited_save(current, by=by, reason=reason)
    patient_refresh_stage(goal.patient, by=by)
