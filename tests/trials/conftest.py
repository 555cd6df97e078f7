"""Trial fixtures: a referred patient, a trial day and the issue's worked tone grid."""

from __future__ import annotations

import pytest

from tests.factories import PatientFactory, ToneAssessmentFactory, TrialFactory

# The issue's worked example: baseline and 240-minute grades, (left, right) per muscle group.
ISSUE_BASELINE = {"hip_adductors": ("3", "3"), "hamstrings": ("2", "2"), "gastrocsoleus": ("1+", "1+")}
ISSUE_AT_240 = {"hip_adductors": ("2", "1"), "hamstrings": ("1", "1"), "gastrocsoleus": ("1", "1")}


def add_scores(trial, minutes: int, grades: dict[str, tuple[str, str]]) -> None:
    """Factory scores (no audit) for one timepoint: ``{"hamstrings": ("2", "1+")}``."""
    for muscle, (left, right) in grades.items():
        for side, mas in (("left", left), ("right", right)):
            if mas:
                ToneAssessmentFactory(trial=trial, muscle_group=muscle, side=side, minutes_after_bolus=minutes, mas=mas)


@pytest.fixture
def patient(db):
    return PatientFactory(given_name="Maya", family_name="Okafor", mrn="MRN424242", weight_kg="24.5")


@pytest.fixture
def trial(patient):
    return TrialFactory(patient=patient)


@pytest.fixture
def scored_trial(trial):
    """The issue's example: positive, 1.0 at 240 minutes."""
    add_scores(trial, 0, ISSUE_BASELINE)
    add_scores(trial, 240, ISSUE_AT_240)
    return trial
