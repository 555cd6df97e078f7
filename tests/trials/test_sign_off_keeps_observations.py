"""Signing a trial never drops the observations on the page: it saves them first, or refuses.

The bug: adverse events ticked in the trial page's Observations form were lost when the
doctor pressed Sign (a separate form), and the locked trial said "none recorded". The page,
the API and the service now share one rule: observations sent with a sign-off are saved,
audited as the signer's own change, in the same transaction as the signature; if they are
invalid, or the page is stale, nothing is saved and the trial stays unsigned.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from playwright.sync_api import Page, expect

from spasticity.audit import StaleEditError
from spasticity.timeutil import clinic_today
from tests.factories import DEMO_PASSWORD, PatientFactory, TrialFactory
from tests.trials.conftest import ISSUE_AT_240, ISSUE_BASELINE, add_scores
from trials import services
from trials.models import Trial

HEADACHE_AND_DIZZINESS = [
    {"kind": "headache", "other": ""},
    {"kind": "other", "other": "Dizziness on sitting up"},
]
NOTE = "Clear reduction at 4 h; proceed to implant"
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective));
"""


def fresh(trial: Trial) -> Trial:
    return Trial.objects.get(pk=trial.pk)


def history_reasons(trial: Trial) -> list[tuple[str, str | None]]:
    """(acting username, reason) for each history row, oldest first."""
    rows = trial.history.order_by("history_date", "history_id")
    return [(row.history_user.username if row.history_user else "", row.history_change_reason) for row in rows]


# --- A page as the browser submits it -----------------------------------------------------


class PageForms(HTMLParser):
    """The form controls of a page, each with the form that owns it, and what a button submits.

    A control belongs to the form named by its ``form`` attribute, else to the form around it;
    a button submits to its ``formaction``, else to its form's ``action`` (the HTML rules the
    browser follows).
    """

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self.controls: list[dict[str, str]] = []
        self._form = ""
        self._open: dict[str, str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = attributes.get("id") or f"form-{len(self.forms)}"
            self.forms[self._form] = attributes
        elif tag in ("input", "textarea", "button"):
            control = {"tag": tag, **attributes, "owner": attributes.get("form") or self._form}
            self.controls.append(control)
            if tag != "input":
                control.setdefault("value", "")
                control["text"] = ""
                self._open = control

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = ""
        elif tag in ("textarea", "button"):
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data
            if self._open["tag"] == "textarea":
                self._open["value"] += data

    def _control(self, name: str, value: str | None = None) -> dict[str, str]:
        found = [c for c in self.controls if c.get("name") == name and (value is None or c.get("value") == value)]
        assert len(found) == 1, f"expected one control {name}={value}, found {len(found)}"
        return found[0]

    def tick(self, name: str, value: str | None = None) -> None:
        self._control(name, value)["checked"] = ""

    def choose(self, name: str, value: str) -> None:
        for control in self.controls:
            if control.get("name") == name:
                control.pop("checked", None)
        self.tick(name, value)

    def fill(self, name: str, text: str) -> None:
        self._control(name)["value"] = text

    def press(self, button_text: str) -> tuple[str, dict[str, list[str]]]:
        """The URL and the data the browser posts when this button is pressed."""
        buttons = [c for c in self.controls if c["tag"] == "button" and c["text"].strip() == button_text]
        assert len(buttons) == 1, f"expected one {button_text!r} button, found {len(buttons)}"
        button = buttons[0]
        owner = button["owner"]
        url = button.get("formaction") or self.forms[owner]["action"]
        data: dict[str, list[str]] = {}
        for control in self.controls:
            if control["owner"] != owner or not control.get("name") or "disabled" in control:
                continue
            if control["tag"] == "button" and control is not button:
                continue
            checkable = control.get("type") in ("checkbox", "radio")
            if checkable and "checked" not in control:
                continue
            data.setdefault(control["name"], []).append(control.get("value", "on" if checkable else ""))
        return url, data


def trial_page(client, trial: Trial) -> PageForms:
    response = client.get(reverse("trials:detail", args=[trial.pk]))
    assert response.status_code == 200
    return PageForms(response.content.decode())


def adverse_events_shown(client, trial: Trial) -> str:
    html = client.get(reverse("trials:detail", args=[trial.pk])).content.decode()
    start = html.index('data-testid="adverse-events">') + len('data-testid="adverse-events">')
    return html[start : html.index("</dd>", start)]


# --- The service ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_signing_with_adverse_events_saves_them_and_the_locked_trial_shows_them(doctor, scored_trial):
    version = scored_trial.version
    observations = services.TrialObservations(
        fluoroscopy_used=True, video_recorded=True, adverse_events=HEADACHE_AND_DIZZINESS
    )

    services.trial_sign_off(
        scored_trial,
        by=doctor,
        outcome="positive",
        note=NOTE,
        observations=observations,
        observations_reason="Ticked on the ward, not saved before signing",
        expected_version=version,
    )

    signed = fresh(scored_trial)
    assert signed.outcome == "positive" and signed.signed_by == doctor
    assert signed.adverse_events == HEADACHE_AND_DIZZINESS
    assert signed.adverse_event_labels() == ["Headache", "Other: Dizziness on sitting up"]
    assert (signed.fluoroscopy_used, signed.video_recorded) == (True, True)
    # The observations are their own audited change by the signer, before the signature.
    assert history_reasons(signed)[-2:] == [
        ("dr_doyle", "Ticked on the ward, not saved before signing"),
        ("dr_doyle", "Signed positive"),
    ]
    assert signed.history.latest().prev_record.adverse_events == HEADACHE_AND_DIZZINESS


@pytest.mark.django_db
def test_observations_saved_at_sign_off_without_a_reason_say_so_in_the_history(doctor, scored_trial):
    observations = services.TrialObservations(adverse_events=[{"kind": "sleepiness", "other": ""}])
    services.trial_sign_off(scored_trial, by=doctor, outcome="positive", note=NOTE, observations=observations)
    assert history_reasons(fresh(scored_trial))[-2:] == [
        ("dr_doyle", services.OBSERVATIONS_AT_SIGN_OFF_REASON),
        ("dr_doyle", "Signed positive"),
    ]


@pytest.mark.django_db
def test_observations_as_recorded_add_no_history_row_and_unsent_ones_are_kept(doctor, nurse, scored_trial):
    scored_trial.fluoroscopy_used = True
    scored_trial.adverse_events = [{"kind": "headache", "other": ""}]
    services.trial_observations_save(scored_trial, by=nurse)
    rows_before = fresh(scored_trial).history.count()

    same = services.TrialObservations(adverse_events=[{"kind": "headache", "other": ""}])
    services.trial_sign_off(scored_trial, by=doctor, outcome="positive", note=NOTE, observations=same)

    signed = fresh(scored_trial)
    assert signed.history.count() == rows_before + 1  # only the signature
    assert signed.fluoroscopy_used is True  # not sent: kept as recorded
    assert signed.adverse_events == [{"kind": "headache", "other": ""}]


@pytest.mark.django_db
def test_an_other_adverse_event_without_a_description_refuses_the_signature_and_saves_nothing(doctor, scored_trial):
    version = scored_trial.version
    observations = services.TrialObservations(adverse_events=[{"kind": "other", "other": "  "}])
    with pytest.raises(ValidationError) as refused:
        services.trial_sign_off(
            scored_trial, by=doctor, outcome="positive", note=NOTE, observations=observations, expected_version=version
        )
    assert "Describe the other adverse event." in refused.value.message_dict["adverse_events"]
    unchanged = fresh(scored_trial)
    assert (unchanged.outcome, unchanged.adverse_events, unchanged.version) == ("", [], version)


@pytest.mark.django_db
def test_a_sign_off_from_a_stale_page_is_refused_and_keeps_the_other_edit(doctor, nurse, scored_trial):
    page_version = scored_trial.version
    meanwhile = fresh(scored_trial)
    meanwhile.adverse_events = [{"kind": "hypotension", "other": ""}]
    services.trial_observations_save(meanwhile, by=nurse, expected_version=page_version)

    observations = services.TrialObservations(adverse_events=[{"kind": "headache", "other": ""}])
    with pytest.raises(StaleEditError):
        services.trial_sign_off(
            scored_trial,
            by=doctor,
            outcome="positive",
            note=NOTE,
            observations=observations,
            expected_version=page_version,
        )
    unchanged = fresh(scored_trial)
    assert unchanged.outcome == ""
    assert unchanged.adverse_events == [{"kind": "hypotension", "other": ""}]


# --- The trial page ------------------------------------------------------------------------


@pytest.mark.django_db
def test_adverse_events_ticked_on_the_page_are_saved_when_the_doctor_presses_sign(client_as, doctor, scored_trial):
    client = client_as(doctor)
    page = trial_page(client, scored_trial)
    page.tick("adverse_event_kinds", "headache")
    page.tick("adverse_event_kinds", "other")
    page.fill("adverse_event_other", "Dizziness on sitting up")
    page.tick("video_recorded")
    page.choose("outcome", "positive")
    page.fill("note", NOTE)

    url, data = page.press("Sign the outcome")
    assert url == reverse("trials:sign_off", args=[scored_trial.pk])
    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    signed = fresh(scored_trial)
    assert (signed.outcome, signed.signed_by) == ("positive", doctor)
    assert signed.adverse_events == HEADACHE_AND_DIZZINESS
    assert signed.video_recorded is True
    assert adverse_events_shown(client, scored_trial) == "Headache, Other: Dizziness on sitting up"


@pytest.mark.django_db
def test_the_page_refuses_to_sign_an_undescribed_other_event_and_keeps_the_ticks(client_as, doctor, scored_trial):
    client = client_as(doctor)
    page = trial_page(client, scored_trial)
    page.tick("adverse_event_kinds", "headache")
    page.tick("adverse_event_kinds", "other")
    page.choose("outcome", "positive")
    page.fill("note", NOTE)

    response = client.post(*page.press("Sign the outcome"))

    assert response.status_code == 400
    assert fresh(scored_trial).outcome == ""
    assert fresh(scored_trial).adverse_events == []
    assert "not signed" in " ".join(response.context["sign_form"].non_field_errors())
    observations_form = response.context["observations_form"]
    assert "Describe the other adverse event." in observations_form.errors["adverse_event_other"]
    again = PageForms(response.content.decode())  # what was ticked is still ticked, and the note kept
    _, data = again.press("Sign the outcome")
    assert data["adverse_event_kinds"] == ["headache", "other"]
    assert data["note"] == [NOTE]


@pytest.mark.django_db
def test_a_sign_off_from_a_stale_page_is_refused_on_the_page(client_as, doctor, nurse, scored_trial):
    client = client_as(doctor)
    page = trial_page(client, scored_trial)
    meanwhile = fresh(scored_trial)
    meanwhile.adverse_events = [{"kind": "hypotension", "other": ""}]
    services.trial_observations_save(meanwhile, by=nurse)
    page.tick("adverse_event_kinds", "headache")
    page.choose("outcome", "positive")
    page.fill("note", NOTE)

    response = client.post(*page.press("Sign the outcome"))

    assert response.status_code == 400
    assert "Someone else saved this record" in " ".join(response.context["sign_form"].non_field_errors())
    unchanged = fresh(scored_trial)
    assert (unchanged.outcome, unchanged.adverse_events) == ("", [{"kind": "hypotension", "other": ""}])


@pytest.mark.django_db
def test_save_observations_on_the_page_still_saves_them_without_signing(client_as, doctor, scored_trial):
    client = client_as(doctor)
    page = trial_page(client, scored_trial)
    page.tick("adverse_event_kinds", "nausea_vomiting")
    page.choose("outcome", "negative")

    url, data = page.press("Save observations")

    assert url == reverse("trials:observations", args=[scored_trial.pk])
    assert client.post(url, data).status_code == 302
    saved = fresh(scored_trial)
    assert saved.adverse_events == [{"kind": "nausea_vomiting", "other": ""}]
    assert saved.outcome == ""


@pytest.mark.django_db
def test_a_sign_off_without_the_observations_form_leaves_recorded_observations_alone(
    client_as, doctor, nurse, scored_trial
):
    scored_trial.adverse_events = [{"kind": "headache", "other": ""}]
    scored_trial.fluoroscopy_used = True
    services.trial_observations_save(scored_trial, by=nurse)
    data = {"outcome": "positive", "note": NOTE, "version": str(fresh(scored_trial).version)}
    response = client_as(doctor).post(reverse("trials:sign_off", args=[scored_trial.pk]), data)
    assert response.status_code == 302
    signed = fresh(scored_trial)
    assert signed.outcome == "positive"
    assert (signed.adverse_events, signed.fluoroscopy_used) == ([{"kind": "headache", "other": ""}], True)


# --- The API -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_sign_off_saves_the_adverse_events_sent_with_it(api_as, doctor, scored_trial):
    response = api_as(doctor).post(
        f"/api/v1/trials/{scored_trial.pk}/sign-off/",
        {
            "outcome": "positive",
            "note": NOTE,
            "version": scored_trial.version,
            "adverse_events": HEADACHE_AND_DIZZINESS,
            "fluoroscopy_used": True,
            "change_reason": "Recorded at the bedside",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["outcome"], body["adverse_events"], body["fluoroscopy_used"]) == (
        "positive",
        HEADACHE_AND_DIZZINESS,
        True,
    )
    assert body["video_recorded"] is False  # not sent: kept as recorded
    assert history_reasons(fresh(scored_trial))[-2:] == [
        ("dr_doyle", "Recorded at the bedside"),
        ("dr_doyle", "Signed positive"),
    ]


@pytest.mark.django_db
def test_the_api_refuses_a_sign_off_with_an_undescribed_other_adverse_event(api_as, doctor, scored_trial):
    response = api_as(doctor).post(
        f"/api/v1/trials/{scored_trial.pk}/sign-off/",
        {"outcome": "positive", "note": NOTE, "adverse_events": [{"kind": "other"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "Describe the other adverse event." in str(response.json()["adverse_events"])
    assert (fresh(scored_trial).outcome, fresh(scored_trial).adverse_events) == ("", [])


@pytest.mark.django_db
def test_the_api_refuses_a_stale_sign_off_with_observations(api_as, doctor, nurse, scored_trial):
    page_version = scored_trial.version
    services.trial_observations_save(fresh(scored_trial), by=nurse, reason="touch")
    response = api_as(doctor).post(
        f"/api/v1/trials/{scored_trial.pk}/sign-off/",
        {"outcome": "positive", "note": NOTE, "version": page_version, "adverse_events": [{"kind": "headache"}]},
        format="json",
    )
    assert response.status_code == 409
    assert (fresh(scored_trial).outcome, fresh(scored_trial).adverse_events) == ("", [])


# --- In the browser ------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_doctor_ticks_adverse_events_presses_sign_and_the_signed_trial_lists_them(page: Page, live_server, doctor):
    trial = TrialFactory(patient=PatientFactory(given_name="Maya", family_name="Okafor"), performed_on=clinic_today())
    add_scores(trial, 0, ISSUE_BASELINE)
    add_scores(trial, 240, ISSUE_AT_240)
    page.add_init_script(CSP_WATCH)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(doctor.username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}{reverse('trials:detail', args=[trial.pk])}")

    # Tick in the Observations card, do not press "Save observations", then sign.
    page.get_by_label("Headache").check()
    page.get_by_label("Other", exact=True).check()
    page.get_by_label("Other adverse event").fill("Dizziness on sitting up")
    page.get_by_label("Positive").check()
    page.get_by_label("Note").fill(NOTE)
    page.get_by_role("button", name="Sign the outcome").click()

    expect(page.get_by_test_id("signed-banner")).to_contain_text("Signed positive")
    expect(page.get_by_test_id("adverse-events")).to_have_text("Headache, Other: Dizziness on sitting up")
    assert page.evaluate("() => window.__cspViolations") == []
