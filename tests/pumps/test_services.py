"""Pump services: implant, dose changes, refills, surgery, voiding and the stored projection.

Dates are in 2024 (the past), as in the spec's worked example: 40 mL added on
2024-01-15, alarm at 2 mL, 500 mcg/day at 2000 mcg/mL → alarm 2024-06-15, due 2024-06-08.
"""

from __future__ import annotations

import datetime as dt
import sys
import types
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from pumps import services
from pumps.models import DoseChange, Pump, PumpModel, Refill, Surgery
from pumps.selectors import projection_drift, suggested_starting_dose_mcg
from pumps.services import FillDetails, ProgramDetails, SurgeryDetails
from spasticity.audit import void_record
from spasticity.timeutil import clinic_today
from tests.factories import DoseChangeFactory, PatientFactory, PumpFactory, PumpModelFactory, RefillFactory

pytestmark = pytest.mark.django_db

D = Decimal
day = dt.date
FLEX_360 = [
    {"start_time": "00:00", "rate_mcg_per_hour": "10"},
    {"start_time": "08:00", "rate_mcg_per_hour": "20"},
    {"start_time": "20:00", "rate_mcg_per_hour": "10"},
]


def record_dose(pump: Pump, by, on: dt.date, dose: str | None, **extra) -> DoseChange:
    return services.dose_change_record(
        pump=pump, by=by, changed_on=on, daily_dose_mcg=D(dose) if dose else None, **extra
    )


def record_refill(pump: Pump, by, on: dt.date, aspirated: str | None, added: str = "40", **extra) -> Refill:
    fields = {"drug": "lioresal", "concentration_mcg_per_ml": D("2000"), "lot_number": "L1", **extra}
    return services.refill_record(
        pump=pump,
        by=by,
        refilled_on=on,
        aspirated_volume_ml=D(aspirated) if aspirated is not None else None,
        volume_added_ml=D(added),
        reservoir_port_access_confirmed=True,
        pump_running_confirmed=True,
        observation_signs=["none_observed"],
        **fields,
    )


def assert_no_drift() -> None:
    assert projection_drift() == []


# --- The worked examples -------------------------------------------------------------


def test_an_implant_with_the_spec_example_stores_alarm_2024_06_15_and_refill_due_2024_06_08(surgeon):
    pump = PumpFactory(by=surgeon)
    pump.refresh_from_db()
    assert pump.alarm_date == day(2024, 6, 15)
    assert pump.refill_due_on == day(2024, 6, 8)
    # SynchroMed II: implanted + 84 calendar months.
    assert pump.battery_end_of_service_on == day(2031, 1, 15)
    assert pump.current_daily_dose_mcg == D("500")
    assert pump.current_concentration_mcg_per_ml == D("2000")
    assert pump.current_drug == "lioresal"
    assert pump.last_refill_on == day(2024, 1, 15)
    first_fill = pump.refills.get()
    assert first_fill.is_first_fill and first_fill.aspirated_volume_ml is None
    assert (first_fill.alarm_date, first_fill.refill_due_on) == (day(2024, 6, 15), day(2024, 6, 8))
    surgery = pump.surgeries.get()
    assert surgery.kind == "implant" and surgery.performed_on == day(2024, 1, 15)
    assert pump.history.first().history_user == surgeon
    assert_no_drift()


def test_a_dose_raised_to_800_on_2024_03_15_moves_the_alarm_to_2024_05_11(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    change = record_dose(
        pump, nurse, day(2024, 3, 15), "800", confirmation_reason="Severe spasms, agreed with Dr Doyle"
    )
    pump.refresh_from_db()
    assert pump.alarm_date == day(2024, 5, 11)
    assert pump.refill_due_on == day(2024, 5, 4)
    assert (change.alarm_date, change.refill_due_on) == (day(2024, 5, 11), day(2024, 5, 4))
    assert change.change_percent == D("60.0")
    assert pump.current_daily_dose_mcg == D("800")
    assert change.history.first().history_user == nurse
    assert_no_drift()


def test_a_flex_program_of_10_20_10_mcg_per_hour_gives_360_mcg_a_day(surgeon, nurse):
    pump = PumpFactory(by=surgeon, daily_dose_mcg=D("350"))
    change = services.dose_change_record(
        pump=pump, by=nurse, changed_on=day(2024, 2, 1), mode="flex", flex_steps=FLEX_360, reason="Night settling"
    )
    change.refresh_from_db()
    assert change.daily_dose_mcg == D("360")
    assert change.flex_steps == [
        {"start_time": "00:00", "rate_mcg_per_hour": "10"},
        {"start_time": "08:00", "rate_mcg_per_hour": "20"},
        {"start_time": "20:00", "rate_mcg_per_hour": "10"},
    ]
    pump.refresh_from_db()
    assert pump.current_mode == "flex" and pump.current_daily_dose_mcg == D("360")


@pytest.mark.parametrize(
    ("aspirated_ml", "deviation", "flag"),
    [("22.5", D("16.7"), "over_delivery"), ("23.0", D("13.3"), "none"), ("27.5", D("-16.7"), "under_delivery")],
)
def test_the_delivery_check_flags_16_7_percent_over_but_not_13_3(surgeon, nurse, aspirated_ml, deviation, flag):
    pump = PumpFactory(by=surgeon)
    # 60 days at 0.25 mL/day: 15 mL expected, 25 mL expected left.
    refill = record_refill(pump, nurse, day(2024, 3, 15), aspirated_ml)
    assert refill.expected_delivered_ml == D("15.00")
    assert refill.expected_residual_ml == D("25.00")
    assert refill.delivery_deviation_percent == deviation
    assert refill.delivery_flag == flag
    pump.refresh_from_db()
    # The new fill: 40 mL on 2024-03-15 at 0.25 mL/day → 152 days → 2024-08-14.
    assert pump.alarm_date == day(2024, 8, 14) == refill.alarm_date
    assert pump.refill_due_on == day(2024, 8, 7) == refill.refill_due_on
    assert pump.last_refill_on == day(2024, 3, 15)


# --- Bad input: field messages, nothing saved ----------------------------------------


def snapshot(pump: Pump) -> tuple:
    pump.refresh_from_db()
    return (
        Refill.objects.count(),
        DoseChange.objects.count(),
        Surgery.objects.count(),
        pump.alarm_date,
        pump.refill_due_on,
        pump.version,
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"added": "45"}, "volume_added_ml", "more than the reservoir holds (40 mL)"),
        ({"added": "2"}, "volume_added_ml", "more than the low-reservoir alarm volume (2 mL)"),
        ({"added": "1.5"}, "volume_added_ml", "more than the low-reservoir alarm volume"),
        ({"concentration_mcg_per_ml": D("0")}, "concentration_mcg_per_ml", "more than 0 mcg/mL"),
        ({"concentration_mcg_per_ml": D("-500")}, "concentration_mcg_per_ml", "more than 0 mcg/mL"),
        ({"concentration_mcg_per_ml": D("1500")}, "dilution_note", "not a standard concentration"),
        ({"on": day(2024, 1, 10)}, "refilled_on", "before the implant on 2024-01-15"),
        ({"on": "tomorrow"}, "refilled_on", "cannot be in the future"),
        ({"aspirated": None}, "aspirated_volume_ml", "Enter the volume aspirated"),
        ({"aspirated": "-1"}, "aspirated_volume_ml", "cannot be negative"),
    ],
)
def test_a_bad_refill_is_refused_with_a_field_message_and_saves_nothing(surgeon, nurse, changes, field, message):
    pump = PumpFactory(by=surgeon)
    before = snapshot(pump)
    on = changes.pop("on", day(2024, 3, 15))
    on = clinic_today() + dt.timedelta(days=1) if on == "tomorrow" else on
    aspirated = changes.pop("aspirated", "23")
    added = changes.pop("added", "40")
    with pytest.raises(ValidationError) as refused:
        record_refill(pump, nurse, on, aspirated, added, **changes)
    assert any(message in m for m in refused.value.message_dict[field]), refused.value.message_dict
    assert snapshot(pump) == before


def test_a_non_standard_concentration_is_accepted_with_a_dilution_note(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    refill = record_refill(
        pump,
        nurse,
        day(2024, 3, 15),
        "25",
        concentration_mcg_per_ml=D("1500"),
        dilution_note="2000 diluted 3:1",
        concentration_reprogrammed_confirmed=True,
    )
    assert refill.pk and refill.dilution_note == "2000 diluted 3:1"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"daily_dose_mcg": D("0")}, "daily_dose_mcg", "more than 0 mcg/day"),
        ({"daily_dose_mcg": D("-50")}, "daily_dose_mcg", "more than 0 mcg/day"),
        ({"daily_dose_mcg": None}, "daily_dose_mcg", "Enter the daily dose"),
        (
            {"mode": "flex", "flex_steps": [{"start_time": "00:00", "rate_mcg_per_hour": "10"}] * 2},
            "flex_steps",
            "overlap",
        ),
        ({"mode": "flex", "flex_steps": [{"start_time": "06:00", "rate_mcg_per_hour": "10"}]}, "flex_steps", "gap"),
        (
            {
                "mode": "flex",
                "flex_steps": [
                    {"start_time": "00:00", "rate_mcg_per_hour": "10"},
                    {"start_time": "20:00", "rate_mcg_per_hour": "10"},
                    {"start_time": "08:00", "rate_mcg_per_hour": "20"},
                ],
            },
            "flex_steps",
            "not in time order",
        ),
        ({"mode": "flex", "flex_steps": [{"start_time": "00:00", "rate_mcg_per_hour": "0"}]}, "flex_steps", "rate"),
        ({"daily_dose_mcg": D("610")}, "confirmation_reason", "more than the 20%"),
        ({"daily_dose_mcg": D("390")}, "confirmation_reason", "decrease"),
        ({"changed_on": day(2024, 1, 1)}, "changed_on", "before the implant on 2024-01-15"),
        ({"changed_on": "tomorrow"}, "changed_on", "cannot be in the future"),
    ],
)
def test_a_bad_dose_change_is_refused_with_a_field_message_and_saves_nothing(surgeon, nurse, changes, field, message):
    pump = PumpFactory(by=surgeon)
    before = snapshot(pump)
    kwargs = {"changed_on": day(2024, 2, 1), "daily_dose_mcg": D("550"), "reason": "Titration", **changes}
    if kwargs["changed_on"] == "tomorrow":
        kwargs["changed_on"] = clinic_today() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        services.dose_change_record(pump=pump, by=nurse, **kwargs)
    assert any(message in m for m in refused.value.message_dict[field]), refused.value.message_dict
    assert snapshot(pump) == before


def test_a_high_dose_needs_a_confirmation_reason_even_for_a_small_step(surgeon, nurse):
    pump = PumpFactory(by=surgeon, daily_dose_mcg=D("950"))
    with pytest.raises(ValidationError) as refused:
        record_dose(pump, nurse, day(2024, 2, 1), "1050")
    assert "above 1000 mcg/day" in " ".join(refused.value.message_dict["confirmation_reason"])
    change = record_dose(pump, nurse, day(2024, 2, 1), "1050", confirmation_reason="Spinal origin, discussed")
    assert change.change_percent == D("10.5")


def test_a_change_of_exactly_20_percent_needs_no_confirmation(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    assert record_dose(pump, nurse, day(2024, 2, 1), "600").change_percent == D("20.0")


def test_a_dose_change_cannot_be_backdated_before_a_later_refill(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    record_refill(pump, nurse, day(2024, 3, 15), "25")
    with pytest.raises(ValidationError) as refused:
        record_dose(pump, nurse, day(2024, 3, 1), "550")
    assert "2024-03-15" in refused.value.message_dict["changed_on"][0]


def test_a_duplicate_serial_number_is_refused_and_nothing_is_saved(surgeon):
    first = PumpFactory(by=surgeon, serial_number="NGP123456H")
    with pytest.raises(ValidationError) as refused:
        PumpFactory(by=surgeon, serial_number="NGP123456H", patient=first.patient)
    assert "already recorded" in refused.value.message_dict["serial_number"][0]
    assert Pump.objects.count() == 1
    assert Refill.objects.count() == DoseChange.objects.count() == Surgery.objects.count() == 1


def test_an_implant_with_a_bad_first_fill_and_program_saves_nothing_and_reports_every_field(surgeon):
    patient = PatientFactory()
    pump = Pump(
        patient=patient,
        model=PumpModelFactory(),
        serial_number="NGP999H",
        reservoir_volume_ml=D("20"),
        implanted_on=day(2024, 1, 15),
    )
    with pytest.raises(ValidationError) as refused:
        services.pump_implant(
            pump,
            by=surgeon,
            first_program=ProgramDetails(daily_dose_mcg=D("0")),
            first_fill=FillDetails(volume_added_ml=D("40"), drug="lioresal", concentration_mcg_per_ml=D("500")),
        )
    errors = refused.value.message_dict
    assert "more than 0 mcg/day" in errors["daily_dose_mcg"][0]
    assert "more than the reservoir holds (20 mL)" in errors["volume_added_ml"][0]
    assert "lot_number" in errors
    assert not Pump.objects.exists() and not Surgery.objects.exists()


def test_a_reservoir_volume_the_model_does_not_come_in_is_refused(surgeon):
    with pytest.raises(ValidationError) as refused:
        PumpFactory(by=surgeon, reservoir_volume_ml=D("30"), volume_added_ml=D("20"))
    assert "comes in 20 mL, 40 mL" in refused.value.message_dict["reservoir_volume_ml"][0]


def test_an_implant_dated_in_the_future_is_refused(surgeon):
    with pytest.raises(ValidationError) as refused:
        PumpFactory(by=surgeon, implanted_on=clinic_today() + dt.timedelta(days=2))
    assert "cannot be in the future" in refused.value.message_dict["implanted_on"][0]
    assert not Pump.objects.exists()


# --- Surgery -------------------------------------------------------------------------


def test_a_replacement_explants_the_old_pump_and_keeps_the_catheter_and_program(surgeon, nurse):
    old = PumpFactory(by=surgeon, serial_number="OLD1")
    record_dose(old, nurse, day(2024, 2, 1), "550")
    new = Pump(model=PumpModelFactory(), serial_number="NEW1", reservoir_volume_ml=D("40"))
    services.pump_replace(
        old,
        new_pump=new,
        by=surgeon,
        surgery=SurgeryDetails(performed_on=day(2024, 4, 1), surgeon=surgeon, complications=["seroma"]),
        first_fill=FillDetails(
            volume_added_ml=D("40"), drug="gablofen", concentration_mcg_per_ml=D("2000"), lot_number="G1"
        ),
    )
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.explanted_on == day(2024, 4, 1) and old.status == "explanted"
    assert (old.alarm_date, old.refill_due_on, old.battery_end_of_service_on) == (None, None, None)
    assert new.patient == old.patient and new.implanted_on == day(2024, 4, 1)
    assert (new.catheter_model, new.catheter_tip_level) == ("8781 Ascenda", "T10")
    assert new.current_daily_dose_mcg == D("550") and new.current_drug == "gablofen"
    # 38 mL at 550/2000 = 0.275 mL/day → 138.18 days → 2024-08-17.
    assert new.alarm_date == day(2024, 8, 17)
    surgery = Surgery.objects.get(kind="pump_replacement")
    assert (surgery.pump, surgery.replaced_pump, surgery.complications) == (new, old, ["seroma"])
    assert old.patient.pathway_stage in ("titration", "maintenance")
    assert_no_drift()


def test_a_replacement_with_a_catheter_revision_records_the_new_catheter(surgeon):
    old = PumpFactory(by=surgeon)
    new = Pump(model=PumpModelFactory(), serial_number="NEW2", reservoir_volume_ml=D("40"), catheter_tip_level="T8")
    services.pump_replace(
        old, new_pump=new, by=surgeon, surgery=SurgeryDetails(performed_on=day(2024, 4, 1)), catheter_revised=True
    )
    new.refresh_from_db()
    assert new.catheter_tip_level == "T8"
    assert Surgery.objects.get(kind="pump_replacement").catheter_revised


def test_a_catheter_revision_updates_the_tip_level_and_keeps_the_pump(surgeon):
    pump = PumpFactory(by=surgeon)
    revision = services.catheter_revision(
        pump,
        by=surgeon,
        surgery=SurgeryDetails(performed_on=day(2024, 2, 20), complications=["other"], complications_other="kink"),
        catheter_tip_level="T6",
    )
    pump.refresh_from_db()
    assert pump.catheter_tip_level == "T6" and pump.explanted_on is None
    assert revision.complication_labels == ["Other: kink"]
    assert pump.alarm_date == day(2024, 6, 15)


def test_an_explant_clears_the_projection_and_makes_the_patient_explanted(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    services.pump_explant(pump, by=surgeon, surgery=SurgeryDetails(performed_on=day(2024, 3, 1)))
    pump.refresh_from_db()
    assert pump.explanted_on == day(2024, 3, 1)
    assert (pump.alarm_date, pump.refill_due_on, pump.battery_end_of_service_on) == (None, None, None)
    pump.patient.refresh_from_db()
    assert pump.patient.pathway_stage == "explanted"
    with pytest.raises(ValidationError) as refill_refused:
        record_refill(pump, nurse, day(2024, 3, 1), "20")
    assert "explanted on 2024-03-01" in refill_refused.value.message_dict["refilled_on"][0]
    with pytest.raises(ValidationError) as surgery_refused:
        services.catheter_revision(pump, by=surgeon, surgery=SurgeryDetails(performed_on=day(2024, 3, 2)))
    assert "explanted" in surgery_refused.value.message_dict["performed_on"][0]
    with pytest.raises(ValidationError):
        services.pump_explant(pump, by=surgeon, surgery=SurgeryDetails(performed_on=day(2024, 3, 3)))
    assert Surgery.objects.count() == 2


def test_an_explant_cannot_be_dated_before_a_recorded_refill(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    record_refill(pump, nurse, day(2024, 3, 15), "25")
    with pytest.raises(ValidationError) as refused:
        services.pump_explant(pump, by=surgeon, surgery=SurgeryDetails(performed_on=day(2024, 3, 1)))
    assert "2024-03-15" in refused.value.message_dict["performed_on"][0]


def test_other_complication_needs_a_description(surgeon):
    pump = PumpFactory(by=surgeon)
    with pytest.raises(ValidationError) as refused:
        services.catheter_revision(
            pump, by=surgeon, surgery=SurgeryDetails(performed_on=day(2024, 2, 1), complications=["other"])
        )
    assert "Describe" in refused.value.message_dict["complications_other"][0]


# --- Voiding and edits recompute in the same transaction ------------------------------


def test_voiding_a_dose_change_moves_the_alarm_back(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    change = record_dose(pump, nurse, day(2024, 3, 15), "800", confirmation_reason="Agreed with Dr Doyle at clinic")
    void_record(change, by=nurse, reason="Entered on the wrong patient")
    pump.refresh_from_db()
    assert pump.alarm_date == day(2024, 6, 15) and pump.current_daily_dose_mcg == D("500")
    latest = pump.history.first()
    assert latest.history_user == nurse and "voiding" in latest.history_change_reason
    assert_no_drift()


def test_voiding_the_latest_refill_projects_from_the_one_before(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    refill = record_refill(pump, nurse, day(2024, 3, 15), "25")
    void_record(refill, by=nurse, reason="Duplicate entry")
    pump.refresh_from_db()
    assert (pump.alarm_date, pump.refill_due_on, pump.last_refill_on) == (
        day(2024, 6, 15),
        day(2024, 6, 8),
        day(2024, 1, 15),
    )
    assert_no_drift()


def test_voiding_the_only_fill_leaves_no_projection_rather_than_a_wrong_one(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    void_record(pump.refills.get(), by=nurse, reason="Wrong volume typed")
    pump.refresh_from_db()
    assert (pump.alarm_date, pump.refill_due_on) == (None, None)
    # The corrected fill is then the first fill: no aspirated residual needed.
    refill = record_refill(pump, nurse, day(2024, 1, 15), None, "38")
    assert refill.is_first_fill
    pump.refresh_from_db()
    assert pump.alarm_date == day(2024, 6, 7)
    assert_no_drift()


def test_an_eri_date_sets_the_battery_end_of_service_90_days_later(surgeon):
    pump = PumpFactory(by=surgeon)
    pump.eri_on = day(2024, 5, 1)
    services.pump_update(pump, by=surgeon, expected_version=pump.version, reason="ERI at interrogation")
    pump.refresh_from_db()
    assert pump.battery_end_of_service_on == day(2024, 7, 30)
    assert_no_drift()


def test_a_prometra_without_an_eri_interval_ends_service_at_its_nominal_life(surgeon):
    prometra = PumpModel.objects.get(model="Prometra II")
    pump = PumpFactory(by=surgeon, model=prometra, off_label_reason="MDT decision: off-label in a child")
    assert pump.battery_end_of_service_on == day(2034, 1, 15)


def test_raising_the_alarm_volume_brings_the_alarm_date_forward(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    pump.low_reservoir_alarm_ml = D("4")
    services.pump_update(pump, by=nurse, expected_version=pump.version)
    pump.refresh_from_db()
    # (40 − 4) / 0.25 = 144 days → 2024-06-07.
    assert pump.alarm_date == day(2024, 6, 7)


def test_a_stale_pump_edit_is_refused(surgeon, doctor):
    pump = PumpFactory(by=surgeon)
    opened = pump.version
    pump.eri_on = day(2024, 5, 1)
    services.pump_update(pump, by=surgeon, expected_version=opened)
    stale = Pump.objects.get(pk=pump.pk)
    stale.pump_site = "Left abdomen"
    with pytest.raises(ValidationError) as refused:
        services.pump_update(stale, by=doctor, expected_version=opened)
    assert "Someone else saved" in refused.value.message_dict["version"][0]


def test_editing_a_catalogue_battery_life_recomputes_its_pumps(surgeon, doctor):
    pump = PumpFactory(by=surgeon)
    catalogue = pump.model
    catalogue.nominal_battery_life_months = 72
    services.pump_model_save(catalogue, by=doctor, expected_version=catalogue.version)
    services.pumps_refresh_projections(by=doctor, model_id=catalogue.pk)  # the background job
    pump.refresh_from_db()
    assert pump.battery_end_of_service_on == day(2030, 1, 15)
    assert_no_drift()


# --- Pathway ---------------------------------------------------------------------------


def test_the_stage_is_titration_after_a_recent_change_then_maintenance_then_explanted(surgeon, nurse):
    from patients.services import patient_refresh_stage

    pump = PumpFactory(by=surgeon)
    patient = pump.patient
    patient_refresh_stage(patient, by=nurse, today=day(2024, 2, 1))
    assert patient.pathway_stage == "titration"
    record_dose(pump, nurse, day(2024, 2, 10), "550", today=day(2024, 2, 10))
    patient_refresh_stage(patient, by=nurse, today=day(2024, 4, 9))  # 59 days after the change
    assert patient.pathway_stage == "titration"
    patient_refresh_stage(patient, by=nurse, today=day(2024, 4, 10))  # 60 days
    assert patient.pathway_stage == "maintenance"
    # A visit that keeps the program is not a dose change.
    record_dose(pump, nurse, day(2024, 4, 10), "550", today=day(2024, 4, 10))
    patient.refresh_from_db()
    assert patient.pathway_stage == "maintenance"
    services.pump_explant(pump, by=surgeon, surgery=SurgeryDetails(performed_on=day(2024, 5, 1)))
    patient.refresh_from_db()
    assert patient.pathway_stage == "explanted"


def test_pump_events_are_on_the_patient_timeline(surgeon, nurse):
    from patients.selectors import patient_timeline

    pump = PumpFactory(by=surgeon, serial_number="NGP777H")
    record_dose(pump, nurse, day(2024, 2, 1), "550")
    record_refill(pump, nurse, day(2024, 3, 15), "25")
    titles = [(event.on, event.kind, event.title) for event in patient_timeline(pump.patient)]
    assert (day(2024, 3, 15), "refill", "Refill: 40 mL of 2000 mcg/mL") in titles
    assert (day(2024, 2, 1), "dose", "Dose program 550 mcg/day (simple continuous)") in titles
    assert (day(2024, 1, 15), "surgery", "Implant: Medtronic SynchroMed II NGP777H") in titles


# --- The starting dose -------------------------------------------------------------


def test_without_a_trials_selector_no_starting_dose_is_suggested():
    patient = PatientFactory()
    assert suggested_starting_dose_mcg(patient.pk) == (None, None)


def test_the_starting_dose_suggested_is_twice_the_positive_trial_bolus(monkeypatch):
    patient = PatientFactory()
    fake = types.ModuleType("trials.selectors")
    fake.effective_positive_trial_bolus_mcg = lambda patient_id: D("75") if patient_id == patient.pk else None
    monkeypatch.setitem(sys.modules, "trials.selectors", fake)
    assert suggested_starting_dose_mcg(patient.pk) == (D("75"), D("150.00"))
    assert suggested_starting_dose_mcg(patient.pk + 1) == (None, None)


# --- Factories ----------------------------------------------------------------------


def test_the_factories_record_through_the_services(surgeon):
    change = DoseChangeFactory(daily_dose_mcg=D("550"))
    refill = RefillFactory(pump=change.pump, aspirated_volume_ml=D("17.5"))
    pump = refill.pump
    pump.refresh_from_db()
    assert pump.current_daily_dose_mcg == D("550") and pump.last_refill_on == refill.refilled_on
    assert refill.alarm_date == pump.alarm_date
    assert_no_drift()
