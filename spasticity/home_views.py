"""One home page per role, at ``/`` (issue 14, point 2). Thin: every list is a named selector.

A user with several roles sees the sections of each, in this order: pump nurse (the day's
work comes first), rehab doctor, neurosurgeon, physical therapist, administrator. Every
list is one page of ``HOME_PAGE_SIZE`` rows with its count (``?page_<key>=N`` pages it), in
a fixed number of queries whatever the caseload.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from alerts.reports import batteries_ending, overdue_refill_count
from alerts.views import worklist_context
from appointments.alert_source import not_booked_days
from appointments.selectors import refill_not_booked_pumps
from patients.models import PathwayStage
from patients.selectors import caregivers_by_patient, patients_at_stage, referrals_waiting
from pumps.selectors import recent_surgeries
from spasticity.lists import page_numbers
from spasticity.roles import Role, roles_of
from spasticity.timeutil import clinic_today
from trials.selectors import goals_due_for_review, trials_of_the_day, trials_to_sign

# Rows per list on a home: a glance, not the whole list (each list pages, and links to its full page).
HOME_PAGE_SIZE = 10
# Surgeries this recent show on the surgeon's home, with their complications.
RECENT_SURGERY_DAYS = 30
HOME_GROUPS = [
    "to_sign",
    "today",
    "awaiting_decision",
    "awaiting_implant",
    "replacements",
    "surgeries",
    "to_score",
    "goals_due",
    "referrals",
]

Pages = Mapping[str, int]


def nurse_sections(request: HttpRequest, today: date, pages: Pages) -> dict[str, Any]:
    """The worklist (alerts by urgency, refills and titration visits this week, "mine/all/unassigned")
    and the families' phone numbers for the patients on the page (one more query)."""
    context = worklist_context(request, page_size=HOME_PAGE_SIZE)
    data = context["worklist"]
    rows = itertools.chain(
        (alert.patient_id for group in data.groups for alert in group.rows),
        (item.pump.patient_id for section in data.pumps.sections for item in section.rows),
    )
    return context | {"phones": caregivers_by_patient(rows)}


def doctor_sections(request: HttpRequest, today: date, pages: Pages) -> dict[str, Any]:
    return {
        "trials_to_sign": trials_to_sign(today=today, page=pages["to_sign"], page_size=HOME_PAGE_SIZE),
        "trials_today": trials_of_the_day(day=today, page=pages["today"], page_size=HOME_PAGE_SIZE),
        # Trial done (scores recorded) with no signed positive trial and no pump: the doctor decides
        # (sign, escalate the bolus, or stop).
        "awaiting_decision": patients_at_stage(
            PathwayStage.TRIAL_DONE,
            key="awaiting_decision",
            label="Patients awaiting a decision",
            page=pages["awaiting_decision"],
            page_size=HOME_PAGE_SIZE,
        ),
    }


def surgeon_sections(request: HttpRequest, today: date, pages: Pages) -> dict[str, Any]:
    within_days = int(settings.CLINIC["BATTERY_WARNING_DAYS"])
    return {
        "awaiting_implant": patients_at_stage(
            PathwayStage.AWAITING_IMPLANT,
            key="awaiting_implant",
            label="Awaiting implant",
            page=pages["awaiting_implant"],
            page_size=HOME_PAGE_SIZE,
        ),
        "replacements": batteries_ending(
            today=today, within_days=within_days, page=pages["replacements"], page_size=HOME_PAGE_SIZE
        ),
        "battery_within_days": within_days,
        "surgeries": recent_surgeries(
            today=today, days=RECENT_SURGERY_DAYS, page=pages["surgeries"], page_size=HOME_PAGE_SIZE
        ),
        "recent_surgery_days": RECENT_SURGERY_DAYS,
    }


def therapist_sections(request: HttpRequest, today: date, pages: Pages) -> dict[str, Any]:
    return {
        "trials_to_score": trials_of_the_day(
            day=today, key="to_score", label="Today's trials to score", page=pages["to_score"], page_size=HOME_PAGE_SIZE
        ),
        "goals_due": goals_due_for_review(today=today, page=pages["goals_due"], page_size=HOME_PAGE_SIZE),
    }


def administrator_sections(request: HttpRequest, today: date, pages: Pages) -> dict[str, Any]:
    within_days = not_booked_days()  # the refill_not_booked alert's own window
    return {
        "referrals": referrals_waiting(page=pages["referrals"], page_size=HOME_PAGE_SIZE),
        "not_booked_count": refill_not_booked_pumps(as_of=today, within_days=within_days).count(),
        "overdue_count": overdue_refill_count(as_of=today),
    }


SectionBuilder = Callable[[HttpRequest, date, Pages], dict[str, Any]]
# The order a user with several roles sees the sections in.
SECTIONS_BY_ROLE: tuple[tuple[Role, SectionBuilder], ...] = (
    (Role.PUMP_NURSE, nurse_sections),
    (Role.REHAB_DOCTOR, doctor_sections),
    (Role.NEUROSURGEON, surgeon_sections),
    (Role.PHYSICAL_THERAPIST, therapist_sections),
    (Role.ADMINISTRATOR, administrator_sections),
)


def home(request: HttpRequest) -> HttpResponse:
    """The signed-in user's home: the sections of each of their roles."""
    user_roles = roles_of(request.user)
    today = clinic_today()
    pages = page_numbers(request.GET, HOME_GROUPS)
    context: dict[str, Any] = {"today": today, "home_roles": []}
    for role, build in SECTIONS_BY_ROLE:
        if role in user_roles:
            context["home_roles"].append(role.value)
            context |= build(request, today, pages)
    return render(request, "homes/home.html", context)
