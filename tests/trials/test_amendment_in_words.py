"""An amended trial's history and the amendment form read in words (issue 14, point 6)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.trials.test_trial_services import sign
from trials import services

pytestmark = pytest.mark.django_db


def history_html(client, trial) -> str:
    response = client.get(reverse("record_history", args=["trials.trial", trial.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_history_of_an_amended_trial_shows_labels_names_and_words(client_as, doctor, scored_trial):
    sign(scored_trial, doctor)
    services.trial_amend(
        scored_trial,
        by=doctor,
        reason="Headache reported by phone the next day",
        changes={
            "adverse_events": [{"kind": "headache", "other": ""}, {"kind": "other", "other": "dizziness"}],
            "video_recorded": True,
            "route": "lumbar_catheter",
        },
    )
    html = history_html(client_as(doctor), scored_trial)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    # No field names, no stored codes, no user ids.
    assert "signed_by" not in html and "adverse_events" not in html
    assert "[{'kind'" not in html and "[{&#x27;kind&#x27;" not in html
    assert "lumbar_catheter" not in html
    # The signature: who signed, by name, and the outcome by its label.
    assert "Signed by : — → Dana Doyle" in text
    assert "Outcome : — → Positive" in text
    # The amendment in words.
    assert "Adverse events : — → Headache, Other: dizziness" in text
    assert "Video recorded : No → Yes" in text
    assert "Route : Lumbar puncture → Lumbar catheter" in text
    assert "Dana Doyle" in text and "dr_doyle" not in text


def opening_tag(html: str, tag: str, name: str) -> str:
    match = re.search(rf'<{tag}\b[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no <{tag} name={name}>"
    return match.group(0)


def test_the_amendment_page_is_a_crispy_bootstrap_form(client_as, doctor, scored_trial):
    sign(scored_trial, doctor)
    html = client_as(doctor).get(reverse("trials:amend", args=[scored_trial.pk])).content.decode()
    # crispy-forms' Bootstrap 5 field wrappers and widget classes, as on the other forms.
    assert 'id="div_id_outcome"' in html and 'id="div_id_reason"' in html
    assert "form-select" in opening_tag(html, "select", "route")
    assert "form-check-input" in opening_tag(html, "input", "video_recorded")
    assert "form-control" in opening_tag(html, "textarea", "reason")
    assert "form-check-input" in opening_tag(html, "input", "adverse_event_kinds")
    # The hand-made markup is gone.
    assert 'class="form-check mt-4"' not in html
