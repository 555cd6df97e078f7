"""The pathway stage is derived from records, one rule for every stage."""

from __future__ import annotations

import datetime as dt

import pytest

from patients.models import PathwayStage, Referral
from patients.pathway import PathwayFacts, StageRules, derive_stage
from patients.services import referral_decide
from tests.factories import PatientFactory, ReferralFactory

TODAY = dt.date(2026, 11, 21)


@pytest.mark.parametrize(
    ("facts", "stage"),
    [
        (PathwayFacts(), PathwayStage.REFERRED),
        (PathwayFacts(latest_referral_status="new"), PathwayStage.REFERRED),
        (PathwayFacts(latest_referral_status="accepted"), PathwayStage.REFERRED),
        (PathwayFacts(latest_referral_status="declined"), PathwayStage.DECLINED),
        (PathwayFacts(latest_referral_status="accepted", has_planned_trial=True), PathwayStage.TRIAL_PLANNED),
        (PathwayFacts(has_planned_trial=True, has_performed_trial=True), PathwayStage.TRIAL_DONE),
        (PathwayFacts(has_performed_trial=True, has_signed_positive_trial=True), PathwayStage.AWAITING_IMPLANT),
        (
            PathwayFacts(has_performed_trial=True, has_signed_negative_trial_at_max_dose=True),
            PathwayStage.NOT_CANDIDATE,
        ),
        (
            PathwayFacts(has_signed_positive_trial=True, has_active_pump=True, last_dose_change_on=TODAY),
            PathwayStage.TITRATION,
        ),
        (
            PathwayFacts(has_active_pump=True, last_dose_change_on=TODAY - dt.timedelta(days=59)),
            PathwayStage.TITRATION,
        ),
        (
            PathwayFacts(has_active_pump=True, last_dose_change_on=TODAY - dt.timedelta(days=60)),
            PathwayStage.MAINTENANCE,
        ),
        (
            PathwayFacts(has_active_pump=True, has_explanted_pump=True, last_dose_change_on=TODAY),
            PathwayStage.TITRATION,
        ),
        (PathwayFacts(has_signed_positive_trial=True, has_explanted_pump=True), PathwayStage.EXPLANTED),
    ],
)
def test_each_stage_follows_from_the_records(facts, stage):
    assert derive_stage(facts, today=TODAY) == stage


def test_the_titration_window_is_a_clinic_setting():
    facts = PathwayFacts(has_active_pump=True, last_dose_change_on=TODAY - dt.timedelta(days=30))
    assert derive_stage(facts, today=TODAY, rules=StageRules(titration_ends_after_days_without_change=28)) == (
        PathwayStage.MAINTENANCE
    )
    assert derive_stage(facts, today=TODAY, rules=StageRules(titration_ends_after_days_without_change=31)) == (
        PathwayStage.TITRATION
    )


@pytest.mark.django_db
def test_declining_a_referral_moves_the_stored_stage_to_declined_and_audits_it(doctor):
    patient = PatientFactory()
    referral = ReferralFactory(patient=patient)
    referral_decide(referral, by=doctor, status=Referral.Status.DECLINED, decline_reason="Family prefers oral drugs")
    patient.refresh_from_db()
    assert patient.pathway_stage == PathwayStage.DECLINED
    assert patient.history.latest().history_user == doctor


@pytest.mark.django_db
def test_a_newer_referral_after_a_decline_puts_the_patient_back_to_referred(doctor):
    patient = PatientFactory()
    old = ReferralFactory(patient=patient, received_on=dt.date(2025, 1, 1))
    referral_decide(old, by=doctor, status=Referral.Status.DECLINED, decline_reason="Not now")
    from patients.services import referral_save

    referral_save(ReferralFactory.build(patient=patient, received_on=dt.date(2026, 1, 1)), by=doctor)
    patient.refresh_from_db()
    assert patient.pathway_stage == PathwayStage.REFERRED


@pytest.mark.django_db
def test_voiding_the_declined_referral_re_derives_the_stage_from_what_remains(doctor, nurse):
    from spasticity.audit import void_record

    patient = PatientFactory()
    declined = ReferralFactory(patient=patient)
    referral_decide(declined, by=doctor, status=Referral.Status.DECLINED, decline_reason="Entered on the wrong child")
    patient.refresh_from_db()
    assert patient.pathway_stage == PathwayStage.DECLINED
    void_record(declined, by=nurse, reason="Wrong patient")
    patient.refresh_from_db()
    assert patient.pathway_stage == PathwayStage.REFERRED
    assert patient.history.latest().history_user == nurse


@pytest.mark.django_db
def test_voiding_the_explant_puts_the_stage_back_from_explanted(surgeon):
    from pumps.services import SurgeryDetails, pump_explant
    from spasticity.audit import void_record
    from tests.factories import PumpFactory

    pump = PumpFactory(by=surgeon)
    explant = pump_explant(pump, by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2024, 3, 1)))
    pump.patient.refresh_from_db()
    assert pump.patient.pathway_stage == PathwayStage.EXPLANTED
    void_record(explant, by=surgeon, reason="Recorded on the wrong pump")
    pump.patient.refresh_from_db()
    assert pump.patient.pathway_stage != PathwayStage.EXPLANTED
