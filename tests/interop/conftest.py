"""Patients at every stage of the pathway, recorded through the services, for the FHIR tests."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from alerts.services import alert_scan, system_user
from pumps import services as pump_services
from pumps.models import Pump
from pumps.services import FillDetails, SurgeryDetails
from spasticity.audit import void_record
from spasticity.timeutil import clinic_today
from tests.factories import (
    DoseChangeFactory,
    GoalFactory,
    GoalReviewFactory,
    PatientFactory,
    PumpFactory,
    PumpModelFactory,
    ReferralFactory,
    RefillFactory,
)
from trials import services as trial_services
from trials.models import Trial
from trials.services import ToneCell

D = Decimal
# 7 h at 20, 12.5 h at 25, 4.5 h at 20 mcg/h: 542.5 mcg a day.
FLEX_STEPS = [
    {"start_time": "00:00", "rate_mcg_per_hour": "20"},
    {"start_time": "07:00", "rate_mcg_per_hour": "25"},
    {"start_time": "19:30", "rate_mcg_per_hour": "20"},
]


def seed_demo_caseload_with_a_flex_program(nurse: User) -> Pump:
    """The demo caseload (every pathway stage: ``tests/patients/test_demo_seed.py``), one of
    whose implanted pumps is moved to a flex program today; returns that pump.

    Seeded inside the calling test's transaction (about 20 s), so nothing outlives it.
    """
    call_command("seed_demo", "--i-know-this-is-not-production", "--patients", "15", stdout=io.StringIO())
    pump = Pump.objects.implanted().order_by("pk").first()
    assert pump is not None, "the demo caseload has implanted pumps"
    DoseChangeFactory(
        pump=pump,
        by=nurse,
        changed_on=clinic_today(),
        mode="flex",
        daily_dose_mcg=None,
        flex_steps=FLEX_STEPS,
        confirmation_reason="Agreed with Dr Doyle",
    )
    return pump


def scored_trial(patient, *, therapist, doctor, performed_on: dt.date, sign: bool = True) -> Trial:
    trial = Trial.objects.create(patient=patient, performed_on=performed_on, bolus_dose_mcg=D("50"))
    cells = [
        ToneCell("hip_adductors", "left", 0, "3"),
        ToneCell("hip_adductors", "right", 0, "1+"),
        ToneCell("hip_adductors", "left", 240, "1"),
        ToneCell("hip_adductors", "right", 240, "1"),
    ]
    trial_services.trial_scores_replace(trial, by=therapist, cells=cells)
    if sign:
        trial = trial_services.trial_sign_off(trial, by=doctor, outcome="positive", note="Clear response at 4 h")
    return trial


@pytest.fixture
def referred_patient(nurse):
    patient = PatientFactory(assigned_nurse=nurse)
    ReferralFactory(patient=patient)
    return patient


@pytest.fixture
def trial_done_patient(doctor, nurse, therapist):
    patient = PatientFactory(assigned_doctor=doctor, assigned_nurse=nurse)
    scored_trial(patient, therapist=therapist, doctor=doctor, performed_on=clinic_today() - dt.timedelta(days=3))
    goal = GoalFactory(patient=patient, importance=2, difficulty=1)
    GoalReviewFactory(goal=goal, level=-1)
    return patient


@pytest.fixture
def implanted_patient(doctor, nurse, surgeon):
    """Implanted 2024-01-15 (500 mcg/day, 40 mL at 2000 mcg/mL), a dose change and two refills; alerts scanned."""
    patient = PatientFactory(assigned_doctor=doctor, assigned_nurse=nurse)
    pump = PumpFactory(patient=patient, by=surgeon)
    DoseChangeFactory(pump=pump, by=nurse, changed_on=dt.date(2024, 2, 1), daily_dose_mcg=D("550"))
    RefillFactory(pump=pump, by=nurse, refilled_on=dt.date(2024, 5, 1), aspirated_volume_ml=D("3.5"))
    RefillFactory(pump=pump, by=nurse, refilled_on=dt.date(2024, 9, 1), aspirated_volume_ml=D("5"))
    alert_scan(as_of=clinic_today(), by=system_user())
    return patient


@pytest.fixture
def flex_patient(doctor, nurse, surgeon):
    patient = PatientFactory(assigned_doctor=doctor, assigned_nurse=nurse)
    pump = PumpFactory(patient=patient, by=surgeon, daily_dose_mcg=D("500"))
    DoseChangeFactory(
        pump=pump,
        by=nurse,
        changed_on=dt.date(2024, 2, 1),
        mode="flex",
        daily_dose_mcg=None,
        flex_steps=FLEX_STEPS,
        confirmation_reason="Agreed with Dr Doyle",
    )
    return patient


@pytest.fixture
def replaced_patient(doctor, nurse, surgeon):
    """A pump replaced with a catheter revision on 2024-06-01, then the new one explanted 2024-09-01 (infection)."""
    patient = PatientFactory(assigned_doctor=doctor, assigned_nurse=nurse)
    old = PumpFactory(patient=patient, by=surgeon, serial_number="OLD-1")
    new = Pump(model=PumpModelFactory(), serial_number="NEW-1", reservoir_volume_ml=D("40"))
    pump_services.pump_replace(
        old,
        new_pump=new,
        by=surgeon,
        surgery=SurgeryDetails(performed_on=dt.date(2024, 6, 1), surgeon=surgeon, notes="Elective, at ERI"),
        catheter_revised=True,
        first_fill=FillDetails(
            volume_added_ml=D("40"), drug="gablofen", concentration_mcg_per_ml=D("2000"), lot_number="G1"
        ),
    )
    pump_services.pump_explant(
        new,
        by=surgeon,
        surgery=SurgeryDetails(
            performed_on=dt.date(2024, 9, 1),
            surgeon=surgeon,
            complications=["infection", "other"],
            complications_other="Pocket erythema",
        ),
    )
    return patient


@pytest.fixture
def patient_with_voided_records(doctor, nurse, surgeon, therapist):
    """An implanted patient whose wrong refill, dose change, goal, trial and tone score were voided."""
    patient = PatientFactory(assigned_doctor=doctor, assigned_nurse=nurse)
    pump = PumpFactory(patient=patient, by=surgeon)
    wrong_dose = DoseChangeFactory(pump=pump, by=nurse, changed_on=dt.date(2024, 2, 1), daily_dose_mcg=D("520"))
    wrong_refill = RefillFactory(pump=pump, by=nurse, refilled_on=dt.date(2024, 5, 1))
    void_record(wrong_refill, by=nurse, reason="Entered on the wrong patient")
    void_record(wrong_dose, by=nurse, reason="Typo")
    wrong_goal = GoalFactory(patient=patient)
    void_record(wrong_goal, by=nurse, reason="Duplicate")
    wrong_trial = Trial.objects.create(patient=patient, performed_on=dt.date(2023, 10, 1), bolus_dose_mcg=D("75"))
    void_record(wrong_trial, by=doctor, reason="Never happened")
    kept_trial = scored_trial(
        patient, therapist=therapist, doctor=doctor, performed_on=dt.date(2023, 11, 1), sign=False
    )
    cleared = trial_services.trial_score_set(kept_trial, by=therapist, cell=ToneCell("hip_adductors", "right", 240, ""))
    assert cleared is None
    return patient, {"refill": wrong_refill, "dose": wrong_dose, "goal": wrong_goal, "trial": wrong_trial}
