"""Issue 13, point 7: device safety notices list exactly the affected pumps.

A notice names a model and optionally serials (a list or a range) and drug lots; each affected
pump is acknowledged (patient informed, action taken, by whom and when); the dashboard counts
the pumps of open notices not yet addressed.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from devices.models import SafetyNotice, SafetyNoticePump
from devices.selectors import open_notices_with_unaddressed_pumps, serial_in_range
from pumps.models import PumpModel
from pumps.services import SurgeryDetails, pump_explant
from tests.factories import PumpFactory

pytestmark = pytest.mark.django_db

IN_RANGE = ["NGP200100H", "NGP200150H", "NGP200200H"]
OUT_OF_RANGE = ["NGP200099H", "NGP200201H", "NGP20015H", "XGP200150H", "NGP200150X"]


def synchromed() -> PumpModel:
    return PumpModel.objects.get(model="SynchroMed II")


def notice_body(**changes):
    body = {
        "title": "SynchroMed II motor stall after MRI (FSN 2024-07)",
        "issued_on": "2024-07-01",
        "pump_model": synchromed().pk,
        "serial_from": "NGP200100H",
        "serial_to": "NGP200200H",
        "action_required": "Interrogate at the next refill; inform the family of withdrawal signs.",
        "link": "https://example.org/fsn-2024-07",
    }
    return {**body, **changes}


@pytest.fixture
def caseload(surgeon):
    pumps = {serial: PumpFactory(by=surgeon, serial_number=serial) for serial in IN_RANGE + OUT_OF_RANGE}
    # Another model with a serial in the range, and an explanted pump in the range: not affected.
    pumps["prometra"] = PumpFactory(
        by=surgeon,
        serial_number="NGP200120H",
        model=PumpModel.objects.get(model="Prometra II"),
        reservoir_volume_ml=20,
        volume_added_ml=20,
        low_reservoir_alarm_ml=3,
        off_label_reason="Team decision",
    )
    explanted = PumpFactory(by=surgeon, serial_number="NGP200160H")
    pump_explant(explanted, by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2024, 2, 1)))
    return pumps


def test_a_serial_range_compares_the_number_within_the_same_letters_and_width():
    assert serial_in_range("ngp200150h ", "NGP200100H", "NGP200200H")
    assert not serial_in_range("NGP99", "NGP100", "NGP200")  # no string comparison: other width
    assert not serial_in_range("NGP200150X", "NGP200100H", "NGP200200H")
    assert not serial_in_range("ABC", "NGP200100H", "NGP200200H")


def test_a_notice_for_a_serial_range_lists_exactly_the_matching_pumps_and_acknowledging_one_counts(
    api_as, client_as, caseload, nurse, administrator
):
    created = api_as(nurse).post("/api/v1/safety-notices/", notice_body(), format="json")
    assert created.status_code == 201, created.json()
    notice_id = created.json()["id"]
    listed = api_as(administrator).get(f"/api/v1/safety-notices/{notice_id}/pumps/").json()
    assert [row["serial_number"] for row in listed] == IN_RANGE
    assert not any(row["addressed"] for row in listed)
    assert [(row.unaddressed, row.affected) for row in open_notices_with_unaddressed_pumps()] == [(3, 3)]

    first = caseload[IN_RANGE[0]]
    ack = {"pump": first.pk, "patient_informed_on": "2024-07-03", "action_taken": "Interrogated: motor running"}
    done = api_as(nurse).post(f"/api/v1/safety-notices/{notice_id}/acknowledge/", ack, format="json")
    assert done.status_code == 201, done.json()
    assert done.json()["acknowledged_by"] == nurse.username
    assert [(row.unaddressed, row.affected) for row in open_notices_with_unaddressed_pumps()] == [(2, 3)]
    page = client_as(administrator).get(reverse("alerts:dashboard")).content.decode()
    assert f'data-notice="{notice_id}">2</strong> of 3 pumps' in page

    again = api_as(nurse).post(f"/api/v1/safety-notices/{notice_id}/acknowledge/", ack, format="json")
    assert again.status_code == 400 and "already acknowledged" in again.json()["pump"][0]
    outside = {**ack, "pump": caseload["NGP200201H"].pk}
    refused = api_as(nurse).post(f"/api/v1/safety-notices/{notice_id}/acknowledge/", outside, format="json")
    assert refused.status_code == 400 and "not one the notice affects" in refused.json()["pump"][0]

    # Voiding the acknowledgement puts the pump back in the count; the history keeps both.
    ack_id = done.json()["id"]
    voided = api_as(nurse).post(f"/api/v1/safety-notice-pumps/{ack_id}/void/", {"reason": "Wrong pump"}, format="json")
    assert voided.status_code == 200
    assert [row.unaddressed for row in open_notices_with_unaddressed_pumps()] == [3]
    assert len(api_as(nurse).get(f"/api/v1/safety-notice-pumps/{ack_id}/history/").json()) == 2

    # Closing the notice takes it off the dashboard.
    version = api_as(nurse).get(f"/api/v1/safety-notices/{notice_id}/").json()["version"]
    closed = api_as(nurse).patch(
        f"/api/v1/safety-notices/{notice_id}/", {"closed_on": "2024-07-10", "version": version}, format="json"
    )
    assert closed.status_code == 200, closed.json()
    assert open_notices_with_unaddressed_pumps() == []


def test_a_notice_with_serials_and_lots_needs_both(api_as, caseload, doctor):
    wanted = caseload["NGP200150H"]
    lot = wanted.refills.get().lot_number
    body = notice_body(serial_from="", serial_to="", serial_numbers=IN_RANGE, lot_numbers=[lot.lower()])
    created = api_as(doctor).post("/api/v1/safety-notices/", body, format="json")
    assert created.status_code == 201, created.json()
    listed = api_as(doctor).get(f"/api/v1/safety-notices/{created.json()['id']}/pumps/").json()
    assert [row["serial_number"] for row in listed] == ["NGP200150H"]


def test_a_bad_range_is_a_field_error(api_as, doctor):
    shape = api_as(doctor).post("/api/v1/safety-notices/", notice_body(serial_to="NGP2002H"), format="json")
    assert shape.status_code == 400 and "differ in shape" in shape.json()["serial_from"][0]
    order = api_as(doctor).post("/api/v1/safety-notices/", notice_body(serial_to="NGP200001H"), format="json")
    assert order.status_code == 400 and "starts after it ends" in order.json()["serial_from"][0]
    half = api_as(doctor).post("/api/v1/safety-notices/", notice_body(serial_to=""), format="json")
    assert half.status_code == 400 and "both ends" in half.json()["serial_to"][0]
    assert not SafetyNotice.objects.exists()


@pytest.mark.parametrize("persona", ["therapist", "surgeon", "administrator"])
def test_only_doctors_and_nurses_write_notices_and_everyone_reads_them(api_as, client_as, request, nurse, persona):
    user = request.getfixturevalue(persona)
    assert api_as(user).post("/api/v1/safety-notices/", notice_body(), format="json").status_code == 403
    notice_id = api_as(nurse).post("/api/v1/safety-notices/", notice_body(), format="json").json()["id"]
    assert api_as(user).get(f"/api/v1/safety-notices/{notice_id}/").status_code == 200
    ack = {"pump": 1, "patient_informed_on": "2024-07-03", "action_taken": "x"}
    assert api_as(user).post(f"/api/v1/safety-notices/{notice_id}/acknowledge/", ack, format="json").status_code == 403
    assert client_as(user).get(reverse("devices:notice_detail", args=[notice_id])).status_code == 200
    assert client_as(user).get(reverse("devices:notice_create")).status_code == 403
    assert client_as(user).post(reverse("devices:notice_acknowledge", args=[notice_id]), ack).status_code == 403
    assert not SafetyNoticePump.objects.exists()


def test_the_notice_pages_record_a_notice_and_an_acknowledgement(client_as, caseload, nurse):
    client = client_as(nurse)
    form = {**notice_body(), "serial_numbers": "", "lot_numbers": ""}
    created = client.post(reverse("devices:notice_create"), form)
    assert created.status_code == 302, created.content.decode()[:3000]
    notice = SafetyNotice.objects.get()
    page = client.get(reverse("devices:notice_detail", args=[notice.pk])).content.decode()
    assert all(f'data-serial="{serial}"' in page for serial in IN_RANGE)
    assert not any(f'data-serial="{serial}"' in page for serial in OUT_OF_RANGE)
    pump = caseload[IN_RANGE[1]]
    ack = {"pump": pump.pk, "patient_informed_on": "2024-07-03", "action_taken": "Family phoned"}
    assert client.post(reverse("devices:notice_acknowledge", args=[notice.pk]), ack).status_code == 302
    assert SafetyNoticePump.objects.get().acknowledged_by == nurse
    listing = client.get(reverse("devices:notice_list")).content.decode()
    assert notice.title in listing
