"""The transfer-of-care summary: a real PDF and the same content as a FHIR document Bundle."""

from __future__ import annotations

import re
import subprocess

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from access_log.models import RecordAccess
from interop.document import transfer_document
from interop.fhir import resource_id
from interop.pdf import transfer_summary_pdf
from interop.selectors import patient_records, transfer_summary
from pumps.models import DoseChange, Pump
from spasticity.timeutil import clinic_today
from tests.interop.fhir_checks import check_bundle

pytestmark = pytest.mark.django_db

ROLES = ["rehab_doctor", "pump_nurse", "physical_therapist", "neurosurgeon", "administrator"]
IPS_SECTIONS = {"10160-0", "46264-8", "47519-4", "104605-1", "18776-5"}


def pdf_text(content: bytes, tmp_path) -> str:
    path = tmp_path / "summary.pdf"
    path.write_bytes(content)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return re.sub(r"\s+", " ", text)


def summary_of(patient):
    return transfer_summary(patient_records(patient), prepared_on=clinic_today())


def document_of(patient) -> dict:
    return transfer_document(summary_of(patient), timestamp=timezone.now())


def test_the_pdf_shows_the_program_last_fill_alarm_date_pump_catheter_surgery_alerts_and_team(
    implanted_patient, doctor, nurse, tmp_path
):
    pump = Pump.objects.get(patient=implanted_patient)
    content = transfer_summary_pdf(summary_of(implanted_patient))
    assert content.startswith(b"%PDF")
    text = pdf_text(content, tmp_path)
    assert implanted_patient.mrn in text
    assert "550 mcg a day, since 2024-02-01" in text
    assert "Last fill on 2024-09-01: 40 mL of Lioresal Intrathecal at 2000 mcg/mL" in text
    # The pump's stored projection, as the worklists and the alert scan read it.
    assert pump.alarm_date is not None
    assert f"({pump.alarm_date:%Y-%m-%d})" in text
    assert (
        f"Low-reservoir alarm date: {pump.alarm_date:%Y-%m-%d}. Refill due by: {pump.refill_due_on:%Y-%m-%d}." in text
    )
    assert f"serial {pump.serial_number}" in text and "Catheter: 8781 Ascenda, tip at T10." in text
    assert "2024-01-15: Implant" in text
    assert "Past alarm date" in text
    assert f"Rehabilitation doctor: {doctor.get_full_name()}." in text
    assert f"Pump nurse: {nurse.get_full_name()}." in text
    assert settings.CLINIC["PHONE"] in text


def test_the_pdf_of_a_patient_without_a_pump_says_so(replaced_patient, tmp_path):
    text = pdf_text(transfer_summary_pdf(summary_of(replaced_patient)), tmp_path)
    assert "No pump in place: no refill is due." in text
    assert "explanted on 2024-09-01" in text and "Other: Pocket erythema" in text


@pytest.mark.parametrize("role", ROLES)
def test_every_role_downloads_the_pdf_and_the_download_is_logged(client_as, personas, referred_patient, role):
    url = reverse("interop:transfer_summary_pdf", args=[referred_patient.pk])
    response = client_as(personas[role]).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    entry = RecordAccess.objects.get()
    assert (entry.user, entry.patient_id, entry.channel, entry.path) == (
        personas[role],
        referred_patient.pk,
        "pdf",
        url,
    )


def test_anonymous_and_roleless_users_get_no_pdf(client, client_as, outsider, referred_patient):
    url = reverse("interop:transfer_summary_pdf", args=[referred_patient.pk])
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert client_as(outsider).get(url).status_code == 403
    assert not RecordAccess.objects.exists()


def test_the_document_starts_with_a_composition_whose_ips_sections_resolve(implanted_patient):
    data = document_of(implanted_patient)
    by_type = check_bundle(data, bundle_type="document")
    assert data["identifier"]["system"] == "urn:ietf:rfc:3986"
    composition = data["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition" and by_type["Composition"] == [composition]
    assert composition["type"]["coding"][0]["code"] == "60591-5"
    urls = {entry["fullUrl"] for entry in data["entry"]}
    sections = {section["code"]["coding"][0]["code"]: section for section in composition["section"]}
    assert set(sections) >= IPS_SECTIONS
    for section in composition["section"]:
        assert section["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        assert all(entry["reference"] in urls for entry in section.get("entry", []))
        assert section.get("entry") or section.get("emptyReason") or section["text"]


def test_the_document_holds_the_current_program_pump_surgery_flags_and_plan(implanted_patient):
    data = document_of(implanted_patient)
    composition = data["entry"][0]["resource"]
    sections = {section["code"]["coding"][0]["code"]: section for section in composition["section"]}
    current = DoseChange.objects.filter(pump__patient=implanted_patient).latest("changed_on")
    assert sections["10160-0"]["entry"] == [{"reference": f"urn:uuid:{resource_id('MedicationRequest', current.pk)}"}]
    pump = Pump.objects.get(patient=implanted_patient)
    assert {"reference": f"urn:uuid:{resource_id('DeviceUseStatement', 'pump', pump.pk)}"} in sections["46264-8"][
        "entry"
    ]
    assert len(sections["104605-1"]["entry"]) == implanted_patient.pump_alerts.unresolved().count() >= 1
    resources = {entry["resource"]["resourceType"] for entry in data["entry"]}
    # Pulled in through references: the pump the statements use, the team the plan names.
    assert {"Patient", "Device", "Practitioner", "Organization", "CareTeam", "CarePlan"} <= resources
    plan = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "CarePlan")
    assert (
        f"the low-reservoir alarm is expected on {pump.alarm_date:%Y-%m-%d}"
        in plan["activity"][0]["detail"]["description"]
    )
    # The last fill's observations, the alarm date among them, are in the results section.
    alarm = resource_id("Observation", "refill", pump.refills.latest("refilled_on").pk, "alarm-date")
    assert {"reference": f"urn:uuid:{alarm}"} in sections["30954-2"]["entry"]
    # Only what the summary cites: older refills' observations stay out of the document.
    first_fill = pump.refills.earliest("refilled_on")
    assert f"urn:uuid:{resource_id('Procedure', 'refill', first_fill.pk)}" not in {e["fullUrl"] for e in data["entry"]}


def test_the_document_and_the_pdf_say_the_same_thing(implanted_patient, tmp_path):
    summary = summary_of(implanted_patient)
    text = pdf_text(transfer_summary_pdf(summary), tmp_path)
    data = transfer_document(summary, timestamp=timezone.now())
    for section in data["entry"][0]["resource"]["section"]:
        assert section["title"] in text
        for line in re.findall(r"<li>(.*?)</li>", section["text"]["div"]):
            assert re.sub(r"\s+", " ", line.replace("&#x27;", "'")) in text


@pytest.mark.parametrize("fixture", ["referred_patient", "trial_done_patient", "replaced_patient", "flex_patient"])
def test_the_document_validates_at_every_stage(request, fixture):
    patient = request.getfixturevalue(fixture)
    check_bundle(document_of(patient), bundle_type="document")
