"""Demo trials and goals: one patient at each trial stage of the pathway (used by the demo seeder).

Everything goes through the services, so the demo's histories name the staff who did it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User

from patients.models import Patient
from trials import services
from trials.models import Goal, Trial
from trials.services import ToneCell

TEAM = "Dr D. Doyle (rehab), N. Nash (pump nurse), P. Parker (PT)"
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


def _cells(by_minutes: dict[int, dict[str, tuple[str, str]]]) -> list[ToneCell]:
    cells = []
    for minutes, grades in by_minutes.items():
        for muscle, (left, right) in grades.items():
            cells += [ToneCell(muscle, "left", minutes, left), ToneCell(muscle, "right", minutes, right)]
    return cells


def _score(trial: Trial, after: dict[int, Any], *, staff: dict[str, User], today: dt.date) -> None:
    cells = _cells({0: BASELINE, **after})
    services.trial_scores_replace(trial, by=staff["physical_therapist"], cells=cells, today=today)
    services.trial_spasm_score_set(
        trial, by=staff["physical_therapist"], minutes_after_bolus=0, frequency=3, today=today
    )


def _signed(trial: Trial, outcome: str, note: str, *, staff: dict[str, User], today: dt.date) -> Trial:
    return services.trial_sign_off(trial, by=staff["rehab_doctor"], outcome=outcome, note=note, today=today)


def _goals(patient: Patient, *, set_on: dt.date, staff: dict[str, User], today: dt.date) -> None:
    goals = [
        ("seating", "Sits in her wheelchair through the school day", 3, 2, ["1 h", "2 h", "4 h", "5 h", "all day"]),
        (
            "easier_care",
            "Nappy changes without two carers",
            2,
            1,
            ["3 carers", "2 carers", "1 carer", "1, quick", "self"],
        ),
        ("sleep", "Sleeps through without spasms waking her", None, None, ["5+ wakes", "3 wakes", "1 wake", "0", "0+"]),
    ]
    therapist = staff["physical_therapist"]
    for index, (domain, description, importance, difficulty, levels) in enumerate(goals):
        goal = Goal(
            patient=patient,
            domain=domain,
            description=description,
            set_on=set_on,
            level_descriptions=dict(zip(["-2", "-1", "0", "1", "2"], levels, strict=True)),
            importance=importance,
            difficulty=difficulty,
        )
        services.goal_save(goal, by=therapist)
        services.goal_review_add(
            goal, by=therapist, reviewed_on=min(set_on + dt.timedelta(days=7), today), level=index - 1
        )


def seed_trials(*, staff: dict[str, User], patients: list[Patient], today: dt.date) -> None:
    """Cycle ``patients`` through trial_planned, trial_done, awaiting_implant and not_candidate.

    The first planned trial is today's (so today's trial list has work on it), later ones
    are booked on the following days; finished trials lie in the past weeks.
    ``staff`` is keyed by role slug (``rehab_doctor``, ``pump_nurse``, ``physical_therapist``).
    """
    seeders = [_seed_planned, _seed_done, _seed_awaiting_implant, _seed_not_candidate]
    for index, patient in enumerate(patients):
        seeders[index % len(seeders)](patient, round_=index // len(seeders), staff=staff, today=today)


def _trial(patient: Patient, on: dt.date, dose: str, *, round_: int, staff: dict[str, User], today: dt.date) -> Trial:
    trial = Trial(
        patient=patient,
        performed_on=on,
        planned_start_time=dt.time(7 + round_ % 3, 30),
        bolus_dose_mcg=Decimal(dose),
        route="lumbar_catheter" if round_ % 2 else "lumbar_puncture",
        team_present=TEAM,
    )
    return services.trial_plan(trial, by=staff["pump_nurse"], today=today)


def _seed_planned(patient: Patient, *, round_: int, staff: dict[str, User], today: dt.date) -> None:
    _trial(patient, today + dt.timedelta(days=round_), "50", round_=round_, staff=staff, today=today)


def _seed_done(patient: Patient, *, round_: int, staff: dict[str, User], today: dt.date) -> None:
    trial = _trial(patient, today - dt.timedelta(days=1 + round_), "50", round_=round_, staff=staff, today=today)
    _score(trial, {60: RESPONDS[60], 120: RESPONDS[120]}, staff=staff, today=today)


def _seed_awaiting_implant(patient: Patient, *, round_: int, staff: dict[str, User], today: dt.date) -> None:
    day = today - dt.timedelta(days=15 + 7 * round_)
    first = _trial(patient, day, "50", round_=round_, staff=staff, today=today)
    _score(first, NO_RESPONSE, staff=staff, today=today)
    _signed(first, "negative", "No useful change at 50 mcg; escalate to 75 mcg.", staff=staff, today=today)
    second = _trial(patient, day + dt.timedelta(days=1), "75", round_=round_, staff=staff, today=today)
    _score(second, RESPONDS, staff=staff, today=today)
    _signed(second, "positive", "Clear drop at 4 h, easier seating; family keen.", staff=staff, today=today)
    _goals(patient, set_on=day + dt.timedelta(days=1), staff=staff, today=today)


def _seed_not_candidate(patient: Patient, *, round_: int, staff: dict[str, User], today: dt.date) -> None:
    first_day = today - dt.timedelta(days=30 + 7 * round_)
    for offset, dose in enumerate(("50", "75", "100")):
        on = first_day + dt.timedelta(days=offset)
        trial = _trial(patient, on, dose, round_=round_, staff=staff, today=today)
        _score(trial, NO_RESPONSE, staff=staff, today=today)
        _signed(trial, "negative", f"No response at {dose} mcg.", staff=staff, today=today)
