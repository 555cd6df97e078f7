"""FHIR R4 resources for one patient's pump record, and the ``collection`` Bundle of them.

One small builder per resource type; each takes model instances (already loaded by
``interop.selectors.patient_records``) and returns a plain dict. Nothing is computed
here: the alarm and refill-due dates, expected residuals and deviations are the values
the dosing module stored on the records when they were saved.

Identity. Every resource's ``id`` is a UUID 5 of its kind and primary key under a
namespace derived from ``settings.FHIR["SYSTEM_BASE"]``, so the same record gets the same
id in every export (and two clinics never mint the same one). In a Bundle each entry's
``fullUrl`` is ``urn:uuid:<id>`` and references use it; the NDJSON export rewrites them
to ``Type/<id>`` (``interop.bulk``).

Codes. Standard systems where the spec names a code (SNOMED CT device actions, the
intrathecal route, UCUM units, HL7 status codes); the clinic's own CodeSystems
(``<SYSTEM_BASE>/CodeSystem/<name>``) for its own vocabularies (Modified Ashworth grades,
muscle groups, surgery kinds, alert kinds...). ``LOCAL_CODES`` lists them.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings

from alerts.models import Alert
from patients.models import Diagnosis, Patient
from pumps.models import Complication, DoseChange, Drug, Pump, Refill, Surgery
from trials.models import (
    AdverseEventKind,
    GasLevel,
    Goal,
    GoalDomain,
    GoalReview,
    MuscleGroup,
    Side,
    ToneAssessment,
    Trial,
    TrialOutcome,
)

from .selectors import PatientRecords

Resource = dict[str, Any]

# Every resource type the export writes (the NDJSON export has one file per type).
RESOURCE_TYPES = (
    "Organization",
    "Practitioner",
    "Patient",
    "CareTeam",
    "Condition",
    "Device",
    "DeviceUseStatement",
    "Procedure",
    "MedicationRequest",
    "Observation",
    "Goal",
    "Flag",
)

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
HL7_V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
FLAG_DETAIL_EXTENSION = "http://hl7.org/fhir/StructureDefinition/flag-detail"

# SNOMED CT device actions (Procedure.focalDevice.action) and the route, as the spec names them.
IMPLANTATION = ("129336009", "Implantation - action")
REPLACEMENT = ("282089006", "Replacement - action")
REMOVAL = ("129303008", "Removal - action")
INTRATHECAL_ROUTE = ("72607000", "Intrathecal route")
SURGICAL_PROCEDURE = ("387713003", "Surgical procedure")

# The clinic's own vocabularies: CodeSystem name → {code: display}.
LOCAL_CODES: dict[str, dict[str, str]] = {
    "diagnosis": dict(Diagnosis.choices),
    "surgery-kind": dict(Surgery.Kind.choices),
    "complication": dict(Complication.choices),
    "drug": dict(Drug.choices),
    "procedure": {
        "pump-refill": "Refill of the intrathecal baclofen pump reservoir",
        "itb-trial": "Intrathecal baclofen test bolus (trial)",
    },
    "refill-observation": {
        "volume-added": "Volume added to the reservoir",
        "concentration": "Baclofen concentration",
        "aspirated-residual": "Aspirated residual volume",
        "expected-residual": "Expected residual volume",
        "delivery-deviation": "Delivery deviation from the projection",
        "alarm-date": "Computed low-reservoir alarm date",
        "refill-due-date": "Computed refill-due date",
    },
    "delivery-flag": dict(Refill.DeliveryFlag.choices),
    "observation": {
        "modified-ashworth": "Modified Ashworth Scale grade",
        "minutes-after-bolus": "Minutes after the intrathecal bolus",
        "gas-level": "Goal Attainment Scaling level reached",
    },
    "modified-ashworth": {grade: f"MAS {grade}" for grade in ("0", "1", "1+", "2", "3", "4")},
    "body-site": {
        f"{muscle}-{side}": f"{muscle_label}, {side_label.lower()}"
        for muscle, muscle_label in MuscleGroup.choices
        for side, side_label in Side.choices
    },
    "trial-outcome": dict(TrialOutcome.choices),
    "adverse-event": dict(AdverseEventKind.choices),
    "goal-domain": dict(GoalDomain.choices),
    "alert-kind": dict(Alert.Kind.choices),
}


def system_base() -> str:
    return str(settings.FHIR["SYSTEM_BASE"]).rstrip("/")


def code_system(name: str) -> str:
    return f"{system_base()}/CodeSystem/{name}"


def extension_url(name: str) -> str:
    return f"{system_base()}/StructureDefinition/{name}"


def mrn_system() -> str:
    return str(settings.FHIR["MRN_SYSTEM"])


# --------------------------------------------------------------------------
# Small pieces
# --------------------------------------------------------------------------


def resource_id(kind: str, *key: object) -> str:
    """A stable id: the same record gets the same id in every export."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, system_base())
    return str(uuid.uuid5(namespace, "/".join([kind, *map(str, key)])))


def reference(kind: str, *key: object, display: str = "") -> dict[str, str]:
    """A reference to the resource ``resource_id(kind, *key)``, as a Bundle entry's fullUrl."""
    ref = {"reference": f"urn:uuid:{resource_id(kind, *key)}"}
    if display:
        ref["display"] = display
    return ref


def full_url(resource: Resource) -> str:
    return f"urn:uuid:{resource['id']}"


def number(value: Decimal | int) -> int | float:
    """A JSON number for a FHIR decimal: 40.00 → 40, 12.50 → 12.5."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value.normalize())


def quantity(value: Decimal | int, ucum: str) -> dict[str, Any]:
    return {"value": number(value), "unit": ucum, "system": UCUM, "code": ucum}


def coding(system: str, code: str, display: str = "") -> dict[str, str]:
    result = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def local_concept(name: str, code: str, text: str = "") -> dict[str, Any]:
    """A CodeableConcept from one of the clinic's CodeSystems (``LOCAL_CODES``)."""
    display = LOCAL_CODES[name].get(code, code)
    return {"coding": [coding(code_system(name), code, display)], "text": text or display}


def snomed_concept(code_display: tuple[str, str]) -> dict[str, Any]:
    code, display = code_display
    return {"coding": [coding(SNOMED, code, display)], "text": display}


def day(value: datetime.date) -> str:
    return value.isoformat()


def _person_name(user: Any) -> dict[str, Any]:
    name: dict[str, Any] = {"text": user.get_full_name() or user.username}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    return name


# --------------------------------------------------------------------------
# The clinic and its staff
# --------------------------------------------------------------------------


def organization() -> Resource:
    """The clinic that exports the record: its name and phone numbers (``settings.CLINIC``)."""
    clinic = settings.CLINIC
    resource: Resource = {"resourceType": "Organization", "id": resource_id("Organization", "clinic")}
    resource["name"] = str(clinic.get("NAME", "ITB Clinic"))
    if clinic.get("PHONE"):
        resource["telecom"] = [{"system": "phone", "value": str(clinic["PHONE"]), "use": "work"}]
    if clinic.get("OUT_OF_HOURS_PHONE"):
        resource["contact"] = [
            {"name": {"text": "Out of hours"}, "telecom": [{"system": "phone", "value": clinic["OUT_OF_HOURS_PHONE"]}]}
        ]
    return resource


def practitioner(user: Any) -> Resource:
    return {"resourceType": "Practitioner", "id": resource_id("Practitioner", user.pk), "name": [_person_name(user)]}


def care_team(patient: Patient) -> Resource:
    """The patient's pump team: the assigned rehab doctor and pump nurse, reached through the clinic."""
    participants = []
    for role, user in (("Rehabilitation doctor", patient.assigned_doctor), ("Pump nurse", patient.assigned_nurse)):
        if user is not None:
            participants.append({"role": [{"text": role}], "member": reference("Practitioner", user.pk)})
    resource: Resource = {
        "resourceType": "CareTeam",
        "id": resource_id("CareTeam", patient.pk),
        "status": "active",
        "name": "Intrathecal baclofen pump team",
        "subject": reference("Patient", patient.pk),
        "managingOrganization": [reference("Organization", "clinic")],
    }
    if participants:
        resource["participant"] = participants
    telecom = organization().get("telecom")
    if telecom:
        resource["telecom"] = telecom
    return resource


# --------------------------------------------------------------------------
# The patient
# --------------------------------------------------------------------------


def patient_resource(patient: Patient) -> Resource:
    return {
        "resourceType": "Patient",
        "id": resource_id("Patient", patient.pk),
        "identifier": [
            {
                "use": "official",
                "type": {"coding": [coding(HL7_V2_IDENTIFIER_TYPE, "MR", "Medical record number")], "text": "MRN"},
                "system": mrn_system(),
                "value": patient.mrn,
            }
        ],
        "active": True,
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex,  # the spec's sexes are FHIR's administrative genders
        "birthDate": day(patient.birth_date),
        "managingOrganization": reference("Organization", "clinic"),
    }


def condition(patient: Patient) -> Resource:
    """The diagnosis behind the spasticity, on the problem list."""
    return {
        "resourceType": "Condition",
        "id": resource_id("Condition", patient.pk),
        "clinicalStatus": {"coding": [coding(CONDITION_CLINICAL, "active", "Active")]},
        "verificationStatus": {"coding": [coding(CONDITION_VERIFICATION, "confirmed", "Confirmed")]},
        "category": [{"coding": [coding(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")]}],
        "code": local_concept("diagnosis", patient.diagnosis),
        "subject": reference("Patient", patient.pk),
    }


# --------------------------------------------------------------------------
# Pumps and catheters
# --------------------------------------------------------------------------


def device_status(pump: Pump) -> str:
    return "active" if pump.explanted_on is None else "inactive"


def pump_device(pump: Pump) -> Resource:
    notes = []
    if pump.eri_on:
        notes.append(f"Elective replacement indicator since {day(pump.eri_on)}.")
    if pump.battery_end_of_service_on:
        notes.append(f"Battery end of service expected {day(pump.battery_end_of_service_on)}.")
    resource: Resource = {
        "resourceType": "Device",
        "id": resource_id("Device", "pump", pump.pk),
        "status": device_status(pump),
        "manufacturer": pump.model.manufacturer,
        "deviceName": [{"name": pump.model.model, "type": "model-name"}],
        "modelNumber": pump.model.model,
        "serialNumber": pump.serial_number,
        "type": {"text": "Implantable intrathecal drug infusion pump"},
        "property": [
            {"type": {"text": "Reservoir volume"}, "valueQuantity": [quantity(pump.reservoir_volume_ml, "mL")]},
            {
                "type": {"text": "Low-reservoir alarm volume"},
                "valueQuantity": [quantity(pump.low_reservoir_alarm_ml, "mL")],
            },
        ],
        "patient": reference("Patient", pump.patient_id),
    }
    if notes:
        resource["note"] = [{"text": " ".join(notes)}]
    return resource


def catheter_device(pump: Pump) -> Resource:
    """The intrathecal catheter connected to the pump (its model and tip level as recorded on the pump)."""
    resource: Resource = {
        "resourceType": "Device",
        "id": resource_id("Device", "catheter", pump.pk),
        "status": device_status(pump),
        "type": {"text": "Intrathecal catheter"},
        "patient": reference("Patient", pump.patient_id),
        "parent": reference("Device", "pump", pump.pk),
    }
    if pump.catheter_model:
        resource["deviceName"] = [{"name": pump.catheter_model, "type": "model-name"}]
        resource["modelNumber"] = pump.catheter_model
    if pump.catheter_tip_level:
        resource["note"] = [{"text": f"Catheter tip at {pump.catheter_tip_level}."}]
    return resource


def _use_period(pump: Pump) -> dict[str, str]:
    period = {"start": day(pump.implanted_on)}
    if pump.explanted_on:
        period["end"] = day(pump.explanted_on)
    return period


def _placing_surgery(pump: Pump, surgeries: Sequence[Surgery]) -> Surgery | None:
    kinds = (Surgery.Kind.IMPLANT, Surgery.Kind.PUMP_REPLACEMENT)
    return next((s for s in surgeries if s.pump_id == pump.pk and s.kind in kinds), None)


def pump_use(pump: Pump, surgeries: Sequence[Surgery]) -> Resource:
    resource: Resource = {
        "resourceType": "DeviceUseStatement",
        "id": resource_id("DeviceUseStatement", "pump", pump.pk),
        "status": "active" if pump.explanted_on is None else "completed",
        "subject": reference("Patient", pump.patient_id),
        "device": reference("Device", "pump", pump.pk),
        "timingPeriod": _use_period(pump),
        "bodySite": {"text": pump.pump_site or "Abdominal wall (pump pocket)"},
    }
    placed_by = _placing_surgery(pump, surgeries)
    if placed_by is not None:
        resource["derivedFrom"] = [reference("Procedure", "surgery", placed_by.pk)]
    return resource


def catheter_use(pump: Pump) -> Resource:
    site = "Intrathecal space"
    if pump.catheter_tip_level:
        site += f", catheter tip at {pump.catheter_tip_level}"
    return {
        "resourceType": "DeviceUseStatement",
        "id": resource_id("DeviceUseStatement", "catheter", pump.pk),
        "status": "active" if pump.explanted_on is None else "completed",
        "subject": reference("Patient", pump.patient_id),
        "device": reference("Device", "catheter", pump.pk),
        "timingPeriod": _use_period(pump),
        "bodySite": {"text": site},
    }


# --------------------------------------------------------------------------
# Surgery
# --------------------------------------------------------------------------


def _focal_device(action: tuple[str, str], kind: str, pump_id: int) -> dict[str, Any]:
    return {"action": snomed_concept(action), "manipulated": reference("Device", kind, pump_id)}


def focal_devices(surgery: Surgery, pump_ids: set[int]) -> list[dict[str, Any]]:
    """What the surgery did to which device, as SNOMED CT device actions.

    * implant: the pump is implanted;
    * replacement: the new pump replaces the old one, which is removed (the catheter is
      replaced too when the replacement revised it);
    * catheter revision: the pump's catheter is replaced (a revision puts in a new
      catheter or a new segment; the pump stays);
    * explant: the pump is removed.
    A pump that was voided (entered in error) is not exported, so nothing points at it.
    """
    kind = surgery.kind
    if kind == Surgery.Kind.IMPLANT:
        devices = [_focal_device(IMPLANTATION, "pump", surgery.pump_id)]
    elif kind == Surgery.Kind.PUMP_REPLACEMENT:
        devices = [_focal_device(REPLACEMENT, "pump", surgery.pump_id)]
        if surgery.replaced_pump_id in pump_ids:
            devices.append(_focal_device(REMOVAL, "pump", surgery.replaced_pump_id))
        if surgery.catheter_revised:
            devices.append(_focal_device(REPLACEMENT, "catheter", surgery.pump_id))
    elif kind == Surgery.Kind.CATHETER_REVISION:
        devices = [_focal_device(REPLACEMENT, "catheter", surgery.pump_id)]
    else:
        devices = [_focal_device(REMOVAL, "pump", surgery.pump_id)]
    return devices


def complications(surgery: Surgery) -> list[dict[str, Any]]:
    concepts = []
    for code in surgery.complications or []:
        text = f"Other: {surgery.complications_other}" if code == Complication.OTHER else ""
        concepts.append(local_concept("complication", code, text))
    return concepts


def surgery_procedure(surgery: Surgery, pump_ids: set[int]) -> Resource:
    resource: Resource = {
        "resourceType": "Procedure",
        "id": resource_id("Procedure", "surgery", surgery.pk),
        "status": "completed",
        "category": snomed_concept(SURGICAL_PROCEDURE),
        "code": local_concept(
            "surgery-kind", surgery.kind, f"{surgery.get_kind_display()} (intrathecal baclofen pump)"
        ),
        "subject": reference("Patient", surgery.patient_id),
        "performedDateTime": day(surgery.performed_on),
        "focalDevice": focal_devices(surgery, pump_ids),
    }
    if surgery.surgeon_id:
        resource["performer"] = [{"actor": reference("Practitioner", surgery.surgeon_id)}]
    found = complications(surgery)
    if found:
        resource["complication"] = found
    if surgery.notes:
        resource["note"] = [{"text": surgery.notes}]
    return resource


# --------------------------------------------------------------------------
# Dose programs
# --------------------------------------------------------------------------


def _route() -> dict[str, Any]:
    return snomed_concept(INTRATHECAL_ROUTE)


def _bounds(change: DoseChange, until: datetime.date | None) -> dict[str, Any]:
    period = {"start": day(change.changed_on)}
    if until is not None:
        period["end"] = day(until)
    return {"boundsPeriod": period}


def continuous_dosage(change: DoseChange, until: datetime.date | None) -> dict[str, Any]:
    dose = number(change.daily_dose_mcg)
    return {
        "text": f"{dose} mcg a day by continuous intrathecal infusion",
        "timing": {"repeat": _bounds(change, until)},
        "route": _route(),
        "doseAndRate": [{"rateQuantity": quantity(change.daily_dose_mcg, "ug/d")}],
    }


def flex_dosages(change: DoseChange, until: datetime.date | None) -> list[dict[str, Any]]:
    """One Dosage per flex step: its rate in ug/h from its start time (``hh:mm:ss``) to the next step's."""
    dosages = []
    for sequence, step in enumerate(change.parsed_flex_steps(), start=1):
        start = step.start_time.strftime("%H:%M:%S")
        dosages.append(
            {
                "sequence": sequence,
                "text": f"From {step.start_time:%H:%M}: {number(step.rate_mcg_per_hour)} mcg an hour to the next step",
                "timing": {"repeat": {**_bounds(change, until), "timeOfDay": [start]}},
                "route": _route(),
                "doseAndRate": [{"rateQuantity": quantity(step.rate_mcg_per_hour, "ug/h")}],
            }
        )
    return dosages


def medication_request(
    change: DoseChange, *, previous: DoseChange | None, following: DoseChange | None, current: bool
) -> Resource:
    """A dose program: ``active`` while it is the pump's current program, ``stopped`` once superseded."""
    until = following.changed_on if following is not None else None
    is_flex = change.mode == DoseChange.Mode.FLEX
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": resource_id("MedicationRequest", change.pk),
        "status": "active" if current else "stopped",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Baclofen, intrathecal"},
        "subject": reference("Patient", change.pump.patient_id),
        "authoredOn": day(change.changed_on),
        "supportingInformation": [reference("Device", "pump", change.pump_id)],
        "dosageInstruction": flex_dosages(change, until) if is_flex else [continuous_dosage(change, until)],
    }
    notes = [text for text in (change.reason, change.confirmation_reason) if text]
    if is_flex:
        notes.insert(0, f"Flex program: {number(change.daily_dose_mcg)} mcg a day in total.")
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    if previous is not None:
        resource["priorPrescription"] = reference("MedicationRequest", previous.pk)
    return resource


def medication_requests(records: PatientRecords) -> list[Resource]:
    """The patient's dose programs in order, each pointing at the one it replaced.

    The chain runs across pumps: a replacement pump's first program carries on from the
    old pump's last one.
    """
    programs = records.dose_changes
    current_ids = _current_program_ids(records)
    resources = []
    for index, change in enumerate(programs):
        previous = programs[index - 1] if index > 0 else None
        following = programs[index + 1] if index + 1 < len(programs) else None
        resources.append(
            medication_request(change, previous=previous, following=following, current=change.pk in current_ids)
        )
    return resources


def _current_program_ids(records: PatientRecords) -> set[int]:
    latest: dict[int, DoseChange] = {}
    for change in records.dose_changes:
        latest[change.pump_id] = change  # oldest first, so the last one wins
    implanted = {pump.pk for pump in records.pumps if pump.explanted_on is None}
    return {change.pk for pump_id, change in latest.items() if pump_id in implanted}


# --------------------------------------------------------------------------
# Refills
# --------------------------------------------------------------------------


def refill_procedure(refill: Refill, patient_id: int) -> Resource:
    resource: Resource = {
        "resourceType": "Procedure",
        "id": resource_id("Procedure", "refill", refill.pk),
        "status": "completed",
        "code": local_concept("procedure", "pump-refill"),
        "subject": reference("Patient", patient_id),
        "performedDateTime": day(refill.refilled_on),
        "focalDevice": [{"manipulated": reference("Device", "pump", refill.pump_id)}],
        "usedCode": [local_concept("drug", refill.drug)],
    }
    notes = [f"Lot {refill.lot_number}." if refill.lot_number else "", refill.dilution_note]
    if any(notes):
        resource["note"] = [{"text": text} for text in notes if text]
    return resource


def _refill_observation(refill: Refill, patient_id: int, code: str, value: dict[str, Any]) -> Resource:
    return {
        "resourceType": "Observation",
        "id": resource_id("Observation", "refill", refill.pk, code),
        "status": "final",
        "category": [{"coding": [coding(OBSERVATION_CATEGORY, "procedure", "Procedure")]}],
        "code": local_concept("refill-observation", code),
        "subject": reference("Patient", patient_id),
        "partOf": [reference("Procedure", "refill", refill.pk)],
        "device": reference("Device", "pump", refill.pump_id),
        "effectiveDateTime": day(refill.refilled_on),
        **value,
    }


def refill_observation_values(refill: Refill) -> list[tuple[str, dict[str, Any]]]:
    """What was put in and found, and the dates the dosing module computed when the refill was saved."""
    values: list[tuple[str, dict[str, Any]]] = [
        ("volume-added", {"valueQuantity": quantity(refill.volume_added_ml, "mL")}),
        ("concentration", {"valueQuantity": quantity(refill.concentration_mcg_per_ml, "ug/mL")}),
    ]
    if refill.aspirated_volume_ml is not None:
        values.append(("aspirated-residual", {"valueQuantity": quantity(refill.aspirated_volume_ml, "mL")}))
    if refill.expected_residual_ml is not None:
        values.append(("expected-residual", {"valueQuantity": quantity(refill.expected_residual_ml, "mL")}))
    if refill.delivery_deviation_percent is not None or refill.may_have_run_dry:
        deviation: dict[str, Any] = {"interpretation": [local_concept("delivery-flag", refill.delivery_flag)]}
        if refill.delivery_deviation_percent is not None:
            deviation["valueQuantity"] = quantity(refill.delivery_deviation_percent, "%")
        else:
            deviation["dataAbsentReason"] = {"text": refill.delivery_note}
        values.append(("delivery-deviation", deviation))
    if refill.alarm_date is not None:
        values.append(("alarm-date", {"valueDateTime": day(refill.alarm_date)}))
    if refill.refill_due_on is not None:
        values.append(("refill-due-date", {"valueDateTime": day(refill.refill_due_on)}))
    return values


def refill_observations(refill: Refill, patient_id: int) -> list[Resource]:
    values = refill_observation_values(refill)
    return [_refill_observation(refill, patient_id, code, value) for code, value in values]


# --------------------------------------------------------------------------
# Trials and tone
# --------------------------------------------------------------------------


def trial_status(trial: Trial, as_of: datetime.date) -> str:
    """A trial day still ahead is in preparation; today's, unscored, is in progress."""
    if trial.is_signed or trial.active_assessments or trial.performed_on < as_of:
        return "completed"
    return "in-progress" if trial.performed_on == as_of else "preparation"


def trial_procedure(trial: Trial, as_of: datetime.date) -> Resource:
    resource: Resource = {
        "resourceType": "Procedure",
        "id": resource_id("Procedure", "trial", trial.pk),
        "status": trial_status(trial, as_of),
        "code": local_concept("procedure", "itb-trial"),
        "subject": reference("Patient", trial.patient_id),
        "performedDateTime": day(trial.performed_on),
        "note": [{"text": f"Bolus of {number(trial.bolus_dose_mcg)} mcg by {trial.get_route_display().lower()}."}],
    }
    if trial.is_signed:
        resource["outcome"] = local_concept("trial-outcome", trial.outcome)
    events = [
        _adverse_event(event) for event in trial.adverse_events or [] if event.get("kind") in AdverseEventKind.values
    ]
    if events:
        resource["complication"] = events
    return resource


def _adverse_event(event: dict[str, Any]) -> dict[str, Any]:
    kind = event["kind"]
    return local_concept("adverse-event", kind, f"Other: {event.get('other', '')}" if kind == "other" else "")


def mas_concept(grade: str) -> dict[str, Any]:
    return local_concept("modified-ashworth", grade)


def tone_observation(score: ToneAssessment, trial: Trial) -> Resource:
    site = f"{score.muscle_group}-{score.side}"
    return {
        "resourceType": "Observation",
        "id": resource_id("Observation", "tone", score.pk),
        "status": "final",
        "category": [{"coding": [coding(OBSERVATION_CATEGORY, "exam", "Exam")]}],
        "code": local_concept("observation", "modified-ashworth"),
        "subject": reference("Patient", trial.patient_id),
        "partOf": [reference("Procedure", "trial", trial.pk)],
        "effectiveDateTime": day(trial.performed_on),
        "valueCodeableConcept": mas_concept(score.mas),
        "bodySite": local_concept("body-site", site),
        "component": [
            {
                "code": local_concept("observation", "minutes-after-bolus"),
                "valueQuantity": quantity(score.minutes_after_bolus, "min"),
            }
        ],
    }


# --------------------------------------------------------------------------
# Goals (Goal Attainment Scaling)
# --------------------------------------------------------------------------


def achievement_status(goal: Goal) -> str:
    """From the latest review: at or above the expected level is achieved; else compared with the baseline."""
    reviews = goal.active_reviews
    if not reviews:
        return "in-progress"
    level = reviews[-1].level
    if level >= GasLevel.EXPECTED:
        return "achieved"
    if level > goal.baseline_level:
        return "improving"
    return "no-change" if level == goal.baseline_level else "worsening"


def gas_extensions(goal: Goal) -> list[dict[str, Any]]:
    """The five GAS levels with their descriptions, and the goal's weighting and baseline.

    Shaped like the HL7 PCO ``pco-goal-attainment-scaling`` extension (a ``level`` and a
    ``text`` per level), but the clinic's own: the PCO extension binds ``level`` to LOINC
    answer codes, and the clinic records levels as the integers −2 … +2.
    """
    extensions: list[dict[str, Any]] = []
    for level in GasLevel.values:
        text = goal.level_description(level)
        if text:
            extensions.append(
                {
                    "url": extension_url("goal-attainment-scaling"),
                    "extension": [{"url": "level", "valueInteger": level}, {"url": "text", "valueString": text}],
                }
            )
    extensions.append({"url": extension_url("gas-baseline-level"), "valueInteger": goal.baseline_level})
    for name in ("importance", "difficulty"):
        value = getattr(goal, name)
        if value is not None:
            extensions.append({"url": extension_url(f"gas-{name}"), "valueInteger": value})
    return extensions


def goal_resource(goal: Goal) -> Resource:
    resource: Resource = {
        "resourceType": "Goal",
        "id": resource_id("Goal", goal.pk),
        "extension": gas_extensions(goal),
        "lifecycleStatus": "active",
        "achievementStatus": {"coding": [coding(GOAL_ACHIEVEMENT, achievement_status(goal))]},
        "category": [local_concept("goal-domain", goal.domain)],
        "description": {"text": goal.description},
        "subject": reference("Patient", goal.patient_id),
        "startDate": day(goal.set_on),
        "target": [{"measure": local_concept("observation", "gas-level"), "detailInteger": GasLevel.EXPECTED}],
    }
    if goal.active_reviews:
        resource["outcomeReference"] = [reference("Observation", "goal-review", r.pk) for r in goal.active_reviews]
    return resource


def goal_review_observation(review: GoalReview, goal: Goal) -> Resource:
    resource: Resource = {
        "resourceType": "Observation",
        "id": resource_id("Observation", "goal-review", review.pk),
        "status": "final",
        "category": [{"coding": [coding(OBSERVATION_CATEGORY, "survey", "Survey")]}],
        "code": local_concept("observation", "gas-level"),
        "subject": reference("Patient", goal.patient_id),
        "focus": [reference("Goal", goal.pk)],
        "effectiveDateTime": day(review.reviewed_on),
        "valueInteger": review.level,
    }
    described = goal.level_description(review.level)
    notes = [text for text in (described, review.note) if text]
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    return resource


# --------------------------------------------------------------------------
# Alerts
# --------------------------------------------------------------------------

# A failing battery is a device-safety matter; the other kinds are about the drug's delivery.
FLAG_CATEGORY_OF_KIND: dict[str, tuple[str, str]] = {Alert.Kind.BATTERY_END_OF_LIFE: ("safety", "Safety")}


def flag(alert: Alert) -> Resource:
    category, display = FLAG_CATEGORY_OF_KIND.get(alert.kind, ("drug", "Drug"))
    text = f"{alert.get_kind_display()} ({day(alert.due_on)}; {alert.get_status_display().lower()})"
    return {
        "resourceType": "Flag",
        "id": resource_id("Flag", alert.pk),
        "extension": [{"url": FLAG_DETAIL_EXTENSION, "valueReference": reference("Device", "pump", alert.pump_id)}],
        "status": "active",
        "category": [{"coding": [coding(FLAG_CATEGORY, category, display)]}],
        "code": local_concept("alert-kind", alert.kind, text),
        "subject": reference("Patient", alert.patient_id),
        "period": {"start": day(alert.raised_on)},
        "author": reference("Organization", "clinic"),
    }


# --------------------------------------------------------------------------
# All of a patient's resources, and the collection Bundle
# --------------------------------------------------------------------------


def staff_of(records: PatientRecords) -> list[Any]:
    """The staff the record names (care team, surgeons), once each."""
    patient = records.patient
    people = [patient.assigned_doctor, patient.assigned_nurse, *(s.surgeon for s in records.surgeries)]
    seen: dict[int, Any] = {}
    for user in people:
        if user is not None:
            seen.setdefault(user.pk, user)
    return list(seen.values())


def _pump_resources(records: PatientRecords) -> list[Resource]:
    resources: list[Resource] = []
    for pump in records.pumps:
        resources += [pump_device(pump), catheter_device(pump)]
        resources += [pump_use(pump, records.surgeries), catheter_use(pump)]
    pump_ids = records.pump_ids()
    resources += [surgery_procedure(surgery, pump_ids) for surgery in records.surgeries]
    return resources


def _refill_resources(records: PatientRecords) -> list[Resource]:
    resources: list[Resource] = []
    for refill in records.refills:
        resources.append(refill_procedure(refill, records.patient.pk))
        resources += refill_observations(refill, records.patient.pk)
    return resources


def _trial_and_goal_resources(records: PatientRecords, as_of: datetime.date) -> list[Resource]:
    resources: list[Resource] = []
    for trial in records.trials:
        resources.append(trial_procedure(trial, as_of))
        resources += [tone_observation(score, trial) for score in trial.active_assessments]
    for goal in records.goals:
        resources.append(goal_resource(goal))
        resources += [goal_review_observation(review, goal) for review in goal.active_reviews]
    return resources


def patient_resources(records: PatientRecords, *, as_of: datetime.date) -> list[Resource]:
    """Every resource of the patient's record, the clinic and staff it names first."""
    patient = records.patient
    resources = [organization(), *(practitioner(user) for user in staff_of(records))]
    resources += [patient_resource(patient), care_team(patient), condition(patient)]
    resources += _pump_resources(records)
    resources += medication_requests(records)
    resources += _refill_resources(records)
    resources += _trial_and_goal_resources(records, as_of)
    resources += [flag(alert) for alert in records.alerts]
    return resources


def bundle(resources: Iterable[Resource], *, bundle_type: str, timestamp: datetime.datetime) -> Resource:
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": bundle_type,
        "timestamp": timestamp.isoformat(timespec="seconds"),
        "entry": [{"fullUrl": full_url(resource), "resource": resource} for resource in resources],
    }


def patient_bundle(records: PatientRecords, *, as_of: datetime.date, timestamp: datetime.datetime) -> Resource:
    """``GET patients/{id}/fhir/``: the patient's whole pump record as a ``collection`` Bundle."""
    return bundle(patient_resources(records, as_of=as_of), bundle_type="collection", timestamp=timestamp)
