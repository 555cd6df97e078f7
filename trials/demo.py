"""Demo trials and goals (used by the demo seeder).

Two kinds of story: patients still in the trial part of the pathway (one at each trial
stage), and the work-up of every patient who has a pump (a signed positive trial with
its tone scores some weeks before the implant, goals set on that day and reviewed after
the implant). Everything goes through the services, so the demo's histories name the
staff who did it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User

from patients.demo import ADULT_AGE_YEARS
from patients.models import Diagnosis, Patient, Sex
from trials import services
from trials.escalation import ESCALATION_MCG, PreviousTrial, age_in_years, is_very_small_child, next_bolus
from trials.models import Goal, Trial
from trials.selectors import GOAL_REVIEW_INTERVAL_DAYS
from trials.services import ToneCell

TEAM = "Dr D. Doyle (rehab), N. Nash (pump nurse), P. Parker (PT)"
Grades = dict[int, dict[str, tuple[str, str]]]  # minutes after the bolus → muscle → (left, right)
BASELINE = {"hip_adductors": ("3", "3"), "hamstrings": ("2", "2"), "gastrocsoleus": ("1+", "2")}
# Grades after the bolus for a clear response, and for none.
RESPONDS = {
    60: {"hip_adductors": ("2", "3"), "hamstrings": ("2", "1+"), "gastrocsoleus": ("1+", "1+")},
    120: {"hip_adductors": ("2", "2"), "hamstrings": ("1+", "1"), "gastrocsoleus": ("1", "1+")},
    240: {"hip_adductors": ("1+", "1"), "hamstrings": ("1", "1"), "gastrocsoleus": ("1", "1")},
    360: {"hip_adductors": ("2", "1+"), "hamstrings": ("1", "1+"), "gastrocsoleus": ("1", "1")},
}
NO_RESPONSE = {
    120: {"hip_adductors": ("3", "3"), "hamstrings": ("2", "1+"), "gastrocsoleus": ("1+", "2")},
    240: {"hip_adductors": ("3", "2"), "hamstrings": ("2", "2"), "gastrocsoleus": ("1+", "1+")},
}
# The work-up before an implant, as many services record it: the two key muscle groups at
# baseline and at the 4 h peak (a smaller grid than a trial day in progress: the demo seeds
# thirty of them, each cell through the services).
WORKUP_BASELINE = {"hip_adductors": ("3", "3"), "gastrocsoleus": ("2", "1+")}
WORKUP_RESPONDS = {240: {"hip_adductors": ("1+", "1"), "gastrocsoleus": ("1", "1")}}
WORKUP_NO_RESPONSE = {240: {"hip_adductors": ("3", "2"), "gastrocsoleus": ("2", "1+")}}
# "25 mcg may be used for very small patients" (the Lioresal label); 50 mcg otherwise.


def _cells(by_minutes: Grades) -> list[ToneCell]:
    cells = []
    for minutes, grades in by_minutes.items():
        for muscle, (left, right) in grades.items():
            cells += [ToneCell(muscle, "left", minutes, left), ToneCell(muscle, "right", minutes, right)]
    return cells


def _score(trial: Trial, after: Grades, *, staff: dict[str, User], today: dt.date) -> None:
    cells = _cells({0: BASELINE, **after})
    services.trial_scores_replace(trial, by=staff["physical_therapist"], cells=cells, today=today)
    services.trial_spasm_score_set(
        trial, by=staff["physical_therapist"], minutes_after_bolus=0, frequency=3, today=today
    )


def _signed(trial: Trial, outcome: str, note: str, *, staff: dict[str, User], today: dt.date) -> Trial:
    return services.trial_sign_off(trial, by=staff["rehab_doctor"], outcome=outcome, note=note, today=today)


# --- Goals --------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalText:
    """A goal as a team writes it; ``{their}``/``{them}`` take the patient's pronoun."""

    domain: str
    description: str
    levels: tuple[str, str, str, str, str]  # −2 … +2; −1 is where the patient is now
    importance: int | None = None
    difficulty: int | None = None


SEATING = GoalText(
    "seating",
    "Sits in {their} wheelchair through the school day",
    ("Less than 1 hour", "1 to 2 hours (now)", "3 to 4 hours", "5 hours", "The whole school day"),
    3,
    2,
)
EASIER_CARE = GoalText(
    "easier_care",
    "Nappy changes and dressing by one carer",
    (
        "Needs three carers",
        "Needs two carers (now)",
        "One carer, with effort",
        "One carer, easily",
        "One carer, quickly",
    ),
    2,
    1,
)
CHILD_SLEEP = GoalText(
    "sleep",
    "Sleeps through the night without spasms waking {them}",
    (
        "Wakes 5 or more times",
        "Wakes 3 or 4 times (now)",
        "Wakes once or twice",
        "Wakes once at most",
        "Sleeps through",
    ),
)
WALKING = GoalText(
    "walking",
    "Walks 50 m with {their} walker",
    ("Cannot walk 10 m", "Walks 10 m (now)", "Walks 50 m", "Walks 50 m without a rest", "Walks 100 m"),
    3,
    3,
)
TRANSFERS = GoalText(
    "transfers",
    "Transfers bed to chair with one helper",
    ("Hoist and two carers", "Two carers (now)", "One carer", "One carer with a board", "Independent with a board"),
    3,
    2,
)
ADULT_SLEEP = GoalText(
    "sleep",
    "Sleeps without spasms waking {them}",
    ("Wakes 4 or more times", "Wakes 2 or 3 times (now)", "Wakes once", "Wakes some nights", "Sleeps through"),
)
COMFORT = GoalText(
    "comfort",
    "Spasm pain at most 3 out of 10",
    ("Pain 8 or more", "Pain 6 to 7 (now)", "Pain 4 to 5", "Pain 3", "Pain 2 or less"),
    3,
    1,
)
SELF_CARE = GoalText(
    "self_care",
    "Dresses {their} lower body without help",
    ("Needs full help", "Needs help with both legs (now)", "Needs help with socks only", "Alone, slowly", "Alone"),
    2,
    2,
)


def goal_texts(patient: Patient, *, on: dt.date) -> list[GoalText]:
    """Three goals that fit the patient: a child's care and seating, a walker's walking, an adult's own."""
    age_years = age_in_years(patient.birth_date, on)
    if age_years < ADULT_AGE_YEARS:
        if patient.gmfcs_level is not None and patient.gmfcs_level >= 4:
            return [SEATING, EASIER_CARE, CHILD_SLEEP]
        return [WALKING, CHILD_SLEEP, SEATING]
    if patient.diagnosis in (Diagnosis.MULTIPLE_SCLEROSIS, Diagnosis.HEREDITARY_SPASTIC_PARAPLEGIA):
        return [ADULT_SLEEP, SELF_CARE, COMFORT]
    return [TRANSFERS, ADULT_SLEEP, COMFORT]


PRONOUNS: dict[str, dict[str, str]] = {
    Sex.FEMALE: {"their": "her", "them": "her"},
    Sex.MALE: {"their": "his", "them": "him"},
}


def _pronouns(patient: Patient) -> dict[str, str]:
    return PRONOUNS.get(patient.sex, {"their": "their", "them": "them"})


def _goal(patient: Patient, text: GoalText, *, set_on: dt.date, by: User) -> Goal:
    goal = Goal(
        patient=patient,
        domain=text.domain,
        description=text.description.format(**_pronouns(patient)),
        set_on=set_on,
        level_descriptions=dict(zip(["-2", "-1", "0", "1", "2"], text.levels, strict=True)),
        importance=text.importance,
        difficulty=text.difficulty,
    )
    return services.goal_save(goal, by=by)


def _goals(patient: Patient, *, set_on: dt.date, staff: dict[str, User], today: dt.date) -> None:
    """Three goals set on the day of the positive trial, each reviewed a week later."""
    therapist = staff["physical_therapist"]
    for index, text in enumerate(goal_texts(patient, on=set_on)):
        goal = _goal(patient, text, set_on=set_on, by=therapist)
        services.goal_review_add(
            goal, by=therapist, reviewed_on=min(set_on + dt.timedelta(days=7), today), level=index - 1
        )


# --- Patients in the trial part of the pathway ---------------------------------------


def seed_trials(*, staff: dict[str, User], patients: list[Patient], today: dt.date) -> None:
    """Cycle ``patients`` through trial_planned, trial_done, awaiting_implant and not_candidate.

    The first planned trial is today's (so today's trial list has work on it), later ones
    are booked on the following days; finished trials lie in the past weeks.
    ``staff`` is keyed by role slug (``rehab_doctor``, ``pump_nurse``, ``physical_therapist``).
    """
    seeders = [_seed_planned, _seed_done, _seed_awaiting_implant, _seed_not_candidate]
    for index, patient in enumerate(patients):
        seeders[index % len(seeders)](patient, round_=index // len(seeders), staff=staff, today=today)


def _trial(
    patient: Patient, on: dt.date, dose: Decimal, *, round_: int, staff: dict[str, User], today: dt.date
) -> Trial:
    trial = Trial(
        patient=patient,
        performed_on=on,
        planned_start_time=dt.time(7 + round_ % 3, 30),
        bolus_dose_mcg=dose,
        route="lumbar_catheter" if round_ % 2 else "lumbar_puncture",
        team_present=TEAM,
    )
    return services.trial_plan(trial, by=staff["pump_nurse"], today=today)


def _seed_planned(patient: Patient, *, round_: int, staff: dict[str, User], today: dt.date) -> None:
    on = today + dt.timedelta(days=round_)
    _trial(patient, on, _bolus_after(patient, None, on=on), round_=round_, staff=staff, today=today)


def _seed_done(patient: Patient, *, round_: int, staff: dict[str, User], today: dt.date) -> None:
    on = today - dt.timedelta(days=1 + round_)
    trial = _trial(patient, on, _bolus_after(patient, None, on=on), round_=round_, staff=staff, today=today)
    _score(trial, {60: RESPONDS[60], 120: RESPONDS[120]}, staff=staff, today=today)


def _seed_awaiting_implant(patient: Patient, *, round_: int, staff: dict[str, User], today: dt.date) -> None:
    (day, first_bolus), (next_day, second_bolus) = _escalation(patient, today - dt.timedelta(days=15 + 7 * round_), 2)
    first = _trial(patient, day, first_bolus, round_=round_, staff=staff, today=today)
    _score(first, NO_RESPONSE, staff=staff, today=today)
    note = f"No useful change at {first_bolus} mcg; escalate to {second_bolus} mcg."
    _signed(first, "negative", note, staff=staff, today=today)
    second = _trial(patient, next_day, second_bolus, round_=round_, staff=staff, today=today)
    _score(second, RESPONDS, staff=staff, today=today)
    _signed(second, "positive", "Clear drop at 4 h, easier seating; family keen.", staff=staff, today=today)
    _goals(patient, set_on=day + dt.timedelta(days=1), staff=staff, today=today)


def _seed_not_candidate(patient: Patient, *, round_: int, staff: dict[str, User], today: dt.date) -> None:
    # Negative at every step up to the top of the escalation: not a candidate.
    first_day = today - dt.timedelta(days=30 + 7 * round_)
    top = len([dose for dose in ESCALATION_MCG if dose >= _bolus_after(patient, None, on=first_day)])
    for on, dose in _escalation(patient, first_day, top):
        trial = _trial(patient, on, dose, round_=round_, staff=staff, today=today)
        _score(trial, NO_RESPONSE, staff=staff, today=today)
        _signed(trial, "negative", f"No response at {dose} mcg.", staff=staff, today=today)


# --- The work-up of a patient who has a pump ------------------------------------------


def _bolus_after(patient: Patient, previous: PreviousTrial | None, *, on: dt.date) -> Decimal:
    """The next bolus of the escalation, by the product's own rule (``trials.escalation``):
    what the trial form suggests for this patient on that day."""
    small = is_very_small_child(weight_kg=patient.weight_kg, birth_date=patient.birth_date, on=on)
    dose = next_bolus(previous, very_small_child=small).dose_mcg
    if dose is None:
        raise ValueError(f"No further trial for {patient.mrn} after {previous}: the demo asked for one.")
    return dose


def _escalation(patient: Patient, first_on: dt.date, trials: int) -> list[tuple[dt.date, Decimal]]:
    """``trials`` trials on consecutive days from ``first_on``, each the escalation's next bolus
    after the one before was signed negative."""
    steps: list[tuple[dt.date, Decimal]] = []
    previous = None
    for offset in range(trials):
        on = first_on + dt.timedelta(days=offset)
        bolus = _bolus_after(patient, previous, on=on)
        steps.append((on, bolus))
        previous = PreviousTrial(on, bolus, "negative")
    return steps


def seed_workup(
    patient: Patient,
    *,
    first_trial_on: dt.date,
    implant_on: dt.date,
    escalate: bool,
    staff: dict[str, User],
    today: dt.date,
) -> Trial:
    """The trial (or the escalation to a second, 25 mcg higher, the next day) that led to
    ``patient``'s implant, signed positive; two goals set that day and reviewed after the implant.

    Returns the positive trial, whose bolus the pump's starting dose is suggested from.
    """
    steps = _escalation(patient, first_trial_on, 2 if escalate else 1)
    for (on, bolus), (_next_on, next_bolus_mcg) in itertools.pairwise(steps):
        first = _workup_trial(patient, on, bolus, WORKUP_NO_RESPONSE, staff=staff, today=today)
        note = f"No useful change at {bolus} mcg; escalate to {next_bolus_mcg} mcg tomorrow."
        _signed(first, "negative", note, staff=staff, today=today)
    on, bolus = steps[-1]
    positive = _workup_trial(patient, on, bolus, WORKUP_RESPONDS, staff=staff, today=today)
    note = f"Clear drop in tone at 4 h after {bolus} mcg; goals agreed with the family; list for implant."
    _signed(positive, "positive", note, staff=staff, today=today)
    _reviewed_goals(patient, set_on=on, implant_on=implant_on, staff=staff, today=today)
    return positive


def _workup_trial(
    patient: Patient, on: dt.date, bolus: Decimal, after: Grades, *, staff: dict[str, User], today: dt.date
) -> Trial:
    trial = Trial(
        patient=patient,
        performed_on=on,
        planned_start_time=dt.time(8, 30),
        bolus_dose_mcg=bolus,
        route="lumbar_puncture",
        team_present=TEAM,
    )
    services.trial_plan(trial, by=staff["pump_nurse"], today=today)
    cells = _cells({0: WORKUP_BASELINE, **after})
    services.trial_scores_replace(trial, by=staff["physical_therapist"], cells=cells, today=today)
    return trial


def review_dates(implant_on: dt.date, today: dt.date) -> list[dt.date]:
    """When the goals are reviewed: at the first titration visits after a recent implant;
    otherwise at three months, and again at a year when that has passed."""
    if (today - implant_on).days < GOAL_REVIEW_INTERVAL_DAYS:
        dates = [implant_on + dt.timedelta(days=14)]
    else:
        dates = [implant_on + dt.timedelta(days=GOAL_REVIEW_INTERVAL_DAYS)]
        if (today - implant_on).days >= 365 + 30:
            dates.append(implant_on + dt.timedelta(days=365))
    return [on for on in dates if on <= today]  # never a review still to come


def _reviewed_goals(
    patient: Patient, *, set_on: dt.date, implant_on: dt.date, staff: dict[str, User], today: dt.date
) -> None:
    """Two goals, a little better at every review (−1 is where the patient started); the
    second, a shorter-term goal, is reviewed once."""
    therapist = staff["physical_therapist"]
    dates = review_dates(implant_on, today)
    for index, text in enumerate(goal_texts(patient, on=set_on)[:2]):
        goal = _goal(patient, text, set_on=set_on, by=therapist)
        for step, reviewed_on in enumerate(dates if index == 0 else dates[:1]):
            # Where each goal starts (−1 or 0) follows the MRN, not the database id: every demo is the same.
            level = (int(patient.mrn[-1]) + index) % 2 - 1 + step
            services.goal_review_add(goal, by=therapist, reviewed_on=reviewed_on, level=level)
