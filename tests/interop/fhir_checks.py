"""What every exported Bundle must satisfy, beyond what ``fhir.resources`` checks.

``fhir.resources`` (its R4B models: R4B is R4 for these resources) checks structure and
datatypes. It checks neither code bindings nor reference integrity, so these helpers do:

* every reference resolves to an entry's ``fullUrl`` (in a Bundle) or to a resource id of
  the named type (in NDJSON);
* every Coding and every Quantity carries a system this file knows, and a code from the
  value set defined here for that system (an unknown system fails: nothing goes unchecked);
* every status-like ``code`` element holds a code of its FHIR value set;
* every ``timeOfDay`` is ``hh:mm:ss``.

The value sets are written out here, from the FHIR R4 specification and the spec's own
vocabularies (the model choices), not read from the exporter, so that the test can fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from alerts.models import AlertKind
from patients.models import Diagnosis
from pumps.models import Complication, Drug, Refill, Surgery
from trials.models import AdverseEventKind, GoalDomain, MuscleGroup, Side, TrialOutcome

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LOCAL = "https://itb-clinic.example/fhir/CodeSystem/"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"

DEVICE_ACTIONS = {"129336009", "282089006", "129303008"}  # implantation, replacement, removal
INTRATHECAL_ROUTE = "72607000"
MAS_GRADES = {"0", "1", "1+", "2", "3", "4"}
RATE_UNITS = {"ug/d", "ug/h"}

# Coding.system → the codes allowed in it.
CODES_BY_SYSTEM: dict[str, set[str]] = {
    SNOMED: DEVICE_ACTIONS | {INTRATHECAL_ROUTE, "387713003"},  # 387713003: surgical procedure
    UCUM: RATE_UNITS | {"mL", "ug/mL", "%", "min"},
    # IPS section codes and the patient summary document type.
    LOINC: {"60591-5", "11450-4", "48765-2", "10160-0", "46264-8", "47519-4", "30954-2", "104605-1", "18776-5"},
    TERMINOLOGY + "v2-0203": {"MR"},
    TERMINOLOGY + "condition-clinical": {"active", "recurrence", "relapse", "inactive", "remission", "resolved"},
    TERMINOLOGY + "condition-ver-status": {"unconfirmed", "provisional", "differential", "confirmed", "refuted"},
    TERMINOLOGY + "condition-category": {"problem-list-item", "encounter-diagnosis"},
    TERMINOLOGY + "observation-category": {
        "social-history",
        "vital-signs",
        "imaging",
        "laboratory",
        "procedure",
        "survey",
        "exam",
        "therapy",
        "activity",
    },
    TERMINOLOGY + "goal-achievement": {
        "in-progress",
        "improving",
        "worsening",
        "no-change",
        "achieved",
        "sustaining",
        "not-achieved",
        "no-progress",
        "not-attainable",
    },
    TERMINOLOGY + "flag-category": {
        "diet",
        "drug",
        "lab",
        "admin",
        "behavioral",
        "research",
        "advance-directive",
        "safety",
    },
    TERMINOLOGY + "list-empty-reason": {"nilknown", "notasked", "withheld", "unavailable", "notstarted", "closed"},
    LOCAL + "diagnosis": set(Diagnosis.values),
    LOCAL + "surgery-kind": set(Surgery.Kind.values),
    LOCAL + "complication": set(Complication.values),
    LOCAL + "drug": set(Drug.values),
    LOCAL + "procedure": {"pump-refill", "itb-trial"},
    LOCAL + "refill-observation": {
        "volume-added",
        "concentration",
        "aspirated-residual",
        "expected-residual",
        "delivery-deviation",
        "alarm-date",
        "refill-due-date",
    },
    LOCAL + "delivery-flag": set(Refill.DeliveryFlag.values),
    LOCAL + "observation": {"modified-ashworth", "minutes-after-bolus", "gas-level"},
    LOCAL + "modified-ashworth": MAS_GRADES,
    LOCAL + "body-site": {f"{muscle}-{side}" for muscle in MuscleGroup.values for side in Side.values},
    LOCAL + "trial-outcome": set(TrialOutcome.values),
    LOCAL + "adverse-event": set(AdverseEventKind.values),
    LOCAL + "goal-domain": set(GoalDomain.values),
    LOCAL + "alert-kind": set(AlertKind.values),
}

EVENT_STATUS = {
    "preparation",
    "in-progress",
    "not-done",
    "on-hold",
    "stopped",
    "completed",
    "entered-in-error",
    "unknown",
}
# (resource type, dotted path) → the codes allowed there. A path through a list visits every item.
CODE_ELEMENTS: dict[tuple[str, str], set[str]] = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Device", "status"): {"active", "inactive", "entered-in-error", "unknown"},
    ("Device", "deviceName.type"): {
        "udi-label-name",
        "user-friendly-name",
        "patient-reported-name",
        "manufacturer-name",
        "model-name",
        "other",
    },
    ("DeviceUseStatement", "status"): {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold"},
    ("Procedure", "status"): EVENT_STATUS,
    ("MedicationRequest", "status"): {
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    },
    ("MedicationRequest", "intent"): {
        "proposal",
        "plan",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option",
    },
    ("Observation", "status"): {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    },
    ("Flag", "status"): {"active", "inactive", "entered-in-error"},
    ("Goal", "lifecycleStatus"): {
        "proposed",
        "planned",
        "accepted",
        "active",
        "on-hold",
        "completed",
        "cancelled",
        "entered-in-error",
        "rejected",
    },
    ("CareTeam", "status"): {"proposed", "active", "suspended", "inactive", "entered-in-error"},
    ("CarePlan", "status"): {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    ("CarePlan", "intent"): {"proposal", "plan", "order", "option"},
    ("CarePlan", "activity.detail.status"): {
        "not-started",
        "scheduled",
        "in-progress",
        "on-hold",
        "completed",
        "cancelled",
        "stopped",
        "unknown",
        "entered-in-error",
    },
    ("Composition", "status"): {"preliminary", "final", "amended", "entered-in-error"},
    ("Organization", "telecom.system"): {"phone", "fax", "email", "pager", "url", "sms", "other"},
}
TIME = re.compile(r"^\d\d:\d\d:\d\d$")


def validate_bundle(data: dict[str, Any]) -> Bundle:
    """Structural validation with fhir.resources (R4B), of the Bundle and every resource in it."""
    return Bundle.model_validate(data)


def validate_resource(data: dict[str, Any]) -> Any:
    return get_fhir_model_class(data["resourceType"]).model_validate(data)


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) pair below ``node``; list items share their list's path."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, path)


def references(resource: dict[str, Any]) -> list[str]:
    return [value for path, value in walk(resource) if path.split(".")[-1] == "reference" and isinstance(value, str)]


def coding_problems(resource: dict[str, Any]) -> list[str]:
    """Codings and Quantities whose system is unknown or whose code is not in its value set."""
    problems = []
    for path, node in walk(resource):
        if not (isinstance(node, dict) and "system" in node and "code" in node):
            continue
        allowed = CODES_BY_SYSTEM.get(node["system"])
        if allowed is None:
            problems.append(f"{resource['resourceType']}.{path}: unknown system {node['system']}")
        elif node["code"] not in allowed:
            problems.append(f"{resource['resourceType']}.{path}: {node['code']!r} not in {node['system']}")
    return problems


def code_element_problems(resource: dict[str, Any]) -> list[str]:
    problems = []
    kind = resource["resourceType"]
    for path, value in walk(resource):
        allowed = CODE_ELEMENTS.get((kind, path))
        if allowed is not None and value not in allowed:
            problems.append(f"{kind}.{path}: {value!r}")
    return problems


def time_problems(resource: dict[str, Any]) -> list[str]:
    return [
        f"{resource['resourceType']}.{path}: {value!r}"
        for path, value in walk(resource)
        if path.endswith("timeOfDay") and isinstance(value, str) and not TIME.match(value)
    ]


def resource_problems(resource: dict[str, Any]) -> list[str]:
    return (
        coding_problems(resource)
        + code_element_problems(resource)
        + time_problems(resource)
        + device_problems(resource)
    )


def device_problems(resource: dict[str, Any]) -> list[str]:
    """The spec's own rules: focal device actions and the route are SNOMED; rates are ug/d or ug/h."""
    problems = []
    kind = resource["resourceType"]
    if kind == "Procedure":
        for focal in resource.get("focalDevice", []):
            for item in focal.get("action", {}).get("coding", []):
                if item["system"] != SNOMED or item["code"] not in DEVICE_ACTIONS:
                    problems.append(f"focalDevice.action {item}")
    if kind == "MedicationRequest":
        for dosage in resource["dosageInstruction"]:
            if [c["code"] for c in dosage["route"]["coding"]] != [INTRATHECAL_ROUTE]:
                problems.append(f"route {dosage['route']}")
            for rate in dosage["doseAndRate"]:
                if rate["rateQuantity"]["code"] not in RATE_UNITS:
                    problems.append(f"rate {rate}")
    return problems


def check_bundle(data: dict[str, Any], *, bundle_type: str = "collection") -> dict[str, list[dict[str, Any]]]:
    """Validate ``data`` and run every check; returns the resources by type for further assertions."""
    validate_bundle(data)
    assert data["type"] == bundle_type
    urls = [entry["fullUrl"] for entry in data["entry"]]
    assert len(urls) == len(set(urls)), "duplicate fullUrl"
    assert all(url.startswith("urn:uuid:") for url in urls)
    by_type: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []
    for entry in data["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        by_type.setdefault(resource["resourceType"], []).append(resource)
        problems += [
            f"unresolved {ref} in {resource['resourceType']}" for ref in references(resource) if ref not in urls
        ]
        problems += resource_problems(resource)
    assert problems == []
    return by_type


def check_ndjson_line(resource: dict[str, Any], ids_by_type: dict[str, set[str]]) -> list[str]:
    """One NDJSON resource: valid, coded right, and each ``Type/id`` reference names a written resource."""
    validate_resource(resource)
    problems = resource_problems(resource)
    for ref in references(resource):
        kind, _, resource_id = ref.partition("/")
        if resource_id not in ids_by_type.get(kind, set()):
            problems.append(f"unresolved {ref} in {resource['resourceType']}/{resource['id']}")
    return problems
