"""Every read with rules for trials and goals: pages, the API, the pathway and the pumps team."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Exists, Max, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce

from patients.models import Patient
from patients.pathway import PathwayFacts
from patients.selectors import TimelineEvent
from spasticity.lists import GROUP_PAGE_SIZE, GroupPage, queryset_page
from trials.escalation import BolusSuggestion, PreviousTrial, is_very_small_child, next_bolus
from trials.gas import GoalSnapshot, t_score_on
from trials.models import (
    DEFAULT_TIMEPOINTS,
    MAX_MINUTES_AFTER_BOLUS,
    TOP_ESCALATION_DOSE_MCG,
    Goal,
    GoalReview,
    MuscleGroup,
    PennSpasmScore,
    Side,
    ToneAssessment,
    Trial,
    TrialAmendment,
    TrialOutcome,
)


def _active_scores() -> Prefetch:  # type: ignore[type-arg]
    return Prefetch("assessments", queryset=ToneAssessment.objects.active())


def trial_detail(pk: int) -> Trial:
    """One trial with everything its page shows, in a fixed number of queries."""
    return (
        Trial.objects.select_related("patient", "signed_by")
        .prefetch_related(
            _active_scores(),
            Prefetch("spasm_scores", queryset=PennSpasmScore.objects.active()),
            Prefetch("amendments", queryset=TrialAmendment.objects.select_related("amended_by")),
        )
        .get(pk=pk)
    )


def trials_on(day: date) -> QuerySet[Trial]:
    """The day's trials (not voided), in bolus-time order; three queries however many."""
    return (
        Trial.objects.active()
        .filter(performed_on=day)
        .select_related("patient", "signed_by")
        .prefetch_related(_active_scores())
        .order_by("planned_start_time", "patient__family_name", "pk")
    )


def patient_trials(patient_id: int) -> list[Trial]:
    """A patient's trials, oldest first (the escalation reads left to right)."""
    trials = (
        Trial.objects.filter(patient_id=patient_id)
        .select_related("signed_by")
        .prefetch_related(_active_scores())
        .order_by("performed_on", "pk")
    )
    return list(trials)


def trial_api_queryset() -> QuerySet[Trial]:
    return (
        Trial.objects.select_related("signed_by")
        .prefetch_related(_active_scores(), Prefetch("spasm_scores", queryset=PennSpasmScore.objects.active()))
        .order_by("-performed_on", "-pk")
    )


# --- The tone grid ----------------------------------------------------------------------


@dataclass(frozen=True)
class GridCell:
    muscle_group: str
    side: str
    minutes_after_bolus: int
    mas: str
    version: int  # of the score row; 0 when the cell is empty

    @property
    def dom_id(self) -> str:
        return f"mas-{self.muscle_group}-{self.side}-{self.minutes_after_bolus}"

    @property
    def muscle_label(self) -> str:
        return str(MuscleGroup(self.muscle_group).label)


@dataclass(frozen=True)
class GridRow:
    muscle_group: str
    muscle_label: str
    side: str
    cells: tuple[GridCell, ...]

    @property
    def first_of_muscle(self) -> bool:
        return self.side == Side.LEFT


@dataclass(frozen=True)
class SpasmCell:
    minutes_after_bolus: int
    frequency: int | None
    version: int

    @property
    def dom_id(self) -> str:
        return f"penn-{self.minutes_after_bolus}"


@dataclass(frozen=True)
class TrialGrid:
    timepoints: tuple[int, ...]
    rows: tuple[GridRow, ...]
    spasm_cells: tuple[SpasmCell, ...]


def grid_timepoints(trial: Trial, extra: Iterable[int] = ()) -> tuple[int, ...]:
    recorded = {s.minutes_after_bolus for s in trial.active_assessments}
    recorded |= {s.minutes_after_bolus for s in trial.active_spasm_scores}
    wanted = {m for m in extra if 0 <= m <= MAX_MINUTES_AFTER_BOLUS}
    return tuple(sorted(set(DEFAULT_TIMEPOINTS) | recorded | wanted))


def tone_cell(trial: Trial, muscle_group: str, side: str, minutes: int) -> GridCell:
    for score in trial.active_assessments:
        if (score.muscle_group, score.side, score.minutes_after_bolus) == (muscle_group, side, minutes):
            return GridCell(muscle_group, side, minutes, score.mas, score.version)
    return GridCell(muscle_group, side, minutes, "", 0)


def spasm_cell(trial: Trial, minutes: int) -> SpasmCell:
    for score in trial.active_spasm_scores:
        if score.minutes_after_bolus == minutes:
            return SpasmCell(minutes, score.frequency, score.version)
    return SpasmCell(minutes, None, 0)


def trial_grid(trial: Trial, extra_timepoints: Iterable[int] = ()) -> TrialGrid:
    """Muscle × side rows, timepoint columns; built from the prefetched scores (no queries)."""
    timepoints = grid_timepoints(trial, extra_timepoints)
    scores = {(s.muscle_group, s.side, s.minutes_after_bolus): s for s in trial.active_assessments}
    rows = []
    for muscle in MuscleGroup:
        for side in Side:
            cells = []
            for minutes in timepoints:
                score = scores.get((muscle.value, side.value, minutes))
                cells.append(
                    GridCell(
                        muscle.value, side.value, minutes, score.mas if score else "", score.version if score else 0
                    )
                )
            rows.append(GridRow(muscle.value, muscle.label, side.value, tuple(cells)))
    spasms = tuple(spasm_cell(trial, minutes) for minutes in timepoints)
    return TrialGrid(timepoints=timepoints, rows=tuple(rows), spasm_cells=spasms)


def trial_chart(trial: Trial) -> dict[str, Any]:
    """Mean MAS over time, overall and per muscle group, as Chart.js {x: minutes, y: MAS} series."""
    response = trial.response
    series = [
        {"label": "All muscle groups", "points": _points(response.mean_mas_by_minutes), "overall": True},
    ]
    for muscle in MuscleGroup:
        by_minutes = response.mean_mas_by_muscle_group.get(muscle.value)
        if by_minutes:
            series.append({"label": muscle.label, "points": _points(by_minutes), "overall": False})
    return {
        "series": series,
        "y_min": 0,
        "y_max": 4,
        "x_suggested_max": 480,
        "x_label": "Minutes after the bolus",
        "y_label": "Mean MAS",
    }


def _points(by_minutes: dict[int, Decimal]) -> list[dict[str, float]]:
    return [{"x": minutes, "y": float(value)} for minutes, value in sorted(by_minutes.items())]


def score_history(trial: Trial) -> list[Any]:
    """Every change to the trial's tone scores, newest first, with who and why."""
    history_model = ToneAssessment.history.model
    return list(
        history_model.objects.filter(trial_id=trial.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")
    )


# --- Escalation, the pathway and the pumps team ---------------------------------------------


def trial_suggested_bolus(patient: Patient, *, today: date) -> BolusSuggestion:
    latest = Trial.objects.active().filter(patient=patient).order_by("-performed_on", "-pk").first()
    previous = PreviousTrial(latest.performed_on, latest.bolus_dose_mcg, latest.outcome) if latest is not None else None
    small = is_very_small_child(weight_kg=patient.weight_kg, birth_date=patient.birth_date, on=today)
    return next_bolus(previous, very_small_child=small)


def effective_positive_trial_bolus_mcg(patient_id: int) -> Decimal | None:
    """The bolus of the patient's latest signed positive trial (the pump's starting dose is 2 × this)."""
    value = (
        Trial.objects.active()
        .filter(patient_id=patient_id, outcome=TrialOutcome.POSITIVE)
        .order_by("-performed_on", "-pk")
        .values_list("effective_bolus_mcg", flat=True)
        .first()
    )
    return Decimal(value) if value is not None else None


def trial_facts(patient_id: int, facts: PathwayFacts) -> PathwayFacts:
    """The pathway facts the trials hold (registered from ``TrialsConfig.ready``).

    * signed positive: any signed positive trial;
    * negative at the top dose: the latest trial is signed negative at 100 mcg or more
      (a later re-trial reopens the question);
    * performed / planned: the latest trial has scores or a signature / has neither, so
      that booking the next step of an escalation shows the patient as "trial planned".
    """
    trials = list(
        Trial.objects.active()
        .filter(patient_id=patient_id)
        .prefetch_related(_active_scores())
        .order_by("-performed_on", "-pk")
    )
    if not trials:
        return facts
    latest = trials[0]
    latest_done = latest.is_signed or bool(latest.active_assessments)
    return replace(
        facts,
        has_planned_trial=not latest_done,
        has_performed_trial=latest_done,
        has_signed_positive_trial=any(t.outcome == TrialOutcome.POSITIVE for t in trials),
        has_signed_negative_trial_at_max_dose=(
            latest.outcome == TrialOutcome.NEGATIVE and latest.bolus_dose_mcg >= TOP_ESCALATION_DOSE_MCG
        ),
    )


def trial_events(patient: Patient) -> list[TimelineEvent]:
    """Trials and goals on the patient's timeline (registered from ``TrialsConfig.ready``)."""
    events = []
    for trial in Trial.objects.filter(patient=patient).select_related("signed_by").order_by("performed_on"):
        events.append(
            TimelineEvent(
                on=trial.performed_on,
                kind="trial",
                title=f"Intrathecal trial: {trial.bolus_dose_mcg.normalize():f} mcg ({trial.get_route_display()})",
                url=trial.get_absolute_url(),
                voided=trial.is_voided,
            )
        )
        if trial.is_signed and trial.signed_at:
            signer = (trial.signed_by.get_full_name() or trial.signed_by.username) if trial.signed_by else ""
            events.append(
                TimelineEvent(
                    on=trial.signed_at.date(),
                    kind="trial",
                    title=f"Trial signed {trial.outcome} by {signer}",
                    detail=trial.outcome_note,
                    url=trial.get_absolute_url(),
                    voided=trial.is_voided,
                )
            )
    for goal in Goal.objects.filter(patient=patient).order_by("set_on"):
        events.append(
            TimelineEvent(
                on=goal.set_on,
                kind="goal",
                title=f"Goal set: {goal.get_domain_display()}",
                detail=goal.description,
                url=goal.get_absolute_url(),
                voided=goal.is_voided,
            )
        )
    return events


# --- Goals ---------------------------------------------------------------------------------


def patient_goals(patient_id: int) -> list[Goal]:
    """The patient's goals (not voided) with their reviews (not voided): two queries."""
    return list(
        Goal.objects.active()
        .filter(patient_id=patient_id)
        .prefetch_related(Prefetch("reviews", queryset=GoalReview.objects.active().order_by("reviewed_on", "pk")))
        .order_by("set_on", "pk")
    )


def goal_snapshot(goal: Goal) -> GoalSnapshot:
    return GoalSnapshot(
        set_on=goal.set_on,
        baseline_level=goal.baseline_level,
        importance=goal.importance,
        difficulty=goal.difficulty,
        reviews=tuple((review.reviewed_on, review.level) for review in goal.reviews.all()),
    )


@dataclass(frozen=True)
class GoalLevelOn:
    goal: Goal
    level: int
    weight: int
    reviewed_on: date | None  # the review the level comes from; None: the baseline


@dataclass(frozen=True)
class GoalAttainment:
    on: date
    t_score: Decimal | None
    goals: list[GoalLevelOn]


def goal_attainment(goals: Sequence[Goal], *, on: date) -> GoalAttainment:
    """The T-score on a date, and each goal's level then (goals set later are left out)."""
    rows = []
    for goal in goals:
        if goal.set_on > on:
            continue
        earlier = [r for r in goal.reviews.all() if r.reviewed_on <= on]
        latest = max(earlier, key=lambda r: (r.reviewed_on, r.pk)) if earlier else None
        level = latest.level if latest else goal.baseline_level
        rows.append(GoalLevelOn(goal, level, goal.weight, latest.reviewed_on if latest else None))
    score = t_score_on([goal_snapshot(g) for g in goals], on)
    return GoalAttainment(on=on, t_score=score, goals=rows)


def goal_attainment_series(goals: Sequence[Goal]) -> list[tuple[date, Decimal]]:
    """The T-score on each day a goal was set or reviewed (the goals chart)."""
    snapshots = [goal_snapshot(g) for g in goals]
    days = sorted({g.set_on for g in goals} | {r.reviewed_on for g in goals for r in g.reviews.all()})
    series = []
    for day in days:
        score = t_score_on(snapshots, day)
        if score is not None:
            series.append((day, score))
    return series


# --- Role homes (spasticity.home_views) --------------------------------------------------------

# A goal is due for review this long after it was set or last reviewed: GAS goals are
# usually scored at about three months (the spec gives no interval; this is the clinic's habit).
GOAL_REVIEW_INTERVAL_DAYS = 90


def _has_active_scores() -> Exists:
    """The trial has tone scores that are not voided: in SQL, what ``trial_facts`` calls performed
    for an unsigned trial (``bool(trial.active_assessments)``)."""
    return Exists(ToneAssessment.objects.active().filter(trial=OuterRef("pk")))


def trials_to_sign(*, today: date, page: int = 1, page_size: int = GROUP_PAGE_SIZE) -> GroupPage[Trial]:
    """Trials done (dated today or before, with scores) and no signed outcome, oldest first: the
    rehab doctor's signatures to give. A trial booked for today and not yet scored is not done
    (``trial_facts``), so it is not listed. Each row's ``response.suggested_outcome`` reads the
    prefetched scores, so the page is three queries (count, rows, scores) however many rows."""
    trials = (
        Trial.objects.active()
        .filter(_has_active_scores(), outcome="", performed_on__lte=today, patient__voided_at__isnull=True)
        .select_related("patient")
        .prefetch_related(_active_scores())
        .order_by("performed_on", "planned_start_time", "pk")
    )
    return queryset_page(trials, key="to_sign", label="Trials awaiting a signature", page=page, size=page_size)


def trials_of_the_day(
    *, day: date, key: str = "today", label: str = "Today's trials", page: int = 1, page_size: int = GROUP_PAGE_SIZE
) -> GroupPage[Trial]:
    """One page of the day's trials (``trials_on``), patients not voided: three queries."""
    trials = trials_on(day).filter(patient__voided_at__isnull=True)
    return queryset_page(trials, key=key, label=label, page=page, size=page_size)


def goals_due_for_review(*, today: date, page: int = 1, page_size: int = GROUP_PAGE_SIZE) -> GroupPage[Goal]:
    """Goals (not voided, patient not voided) whose last review, or setting when never reviewed,
    is ``GOAL_REVIEW_INTERVAL_DAYS`` or more ago; longest waiting first. Two queries."""
    last_reviewed_on = Max("reviews__reviewed_on", filter=Q(reviews__voided_at__isnull=True))
    goals = (
        Goal.objects.active()
        .filter(patient__voided_at__isnull=True)
        .annotate(last_reviewed_on=last_reviewed_on)
        .annotate(review_from=Coalesce("last_reviewed_on", "set_on"))
        .filter(review_from__lte=today - timedelta(days=GOAL_REVIEW_INTERVAL_DAYS))
        .select_related("patient")
        .order_by("review_from", "patient__family_name", "pk")
    )
    return queryset_page(goals, key="goals_due", label="Goals due for review", page=page, size=page_size)
