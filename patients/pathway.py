"""The patient's pathway stage, derived from their records (spec section 2).

``derive_stage`` is the one rule; it is pure so that every stage is testable from
plain facts. ``pathway_facts`` gathers the facts from the database; each app that
holds pathway records (trials, pumps) contributes its facts through the functions
registered in ``FACT_SOURCES``. The result is stored on ``Patient.pathway_stage`` by
``patients.services.patient_refresh_stage`` in the same transaction as the change, so
that lists can filter on it; it is never edited by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

from patients.models import PathwayStage


@dataclass(frozen=True)
class PathwayFacts:
    latest_referral_status: str | None = None
    has_planned_trial: bool = False
    has_performed_trial: bool = False
    has_signed_positive_trial: bool = False
    has_signed_negative_trial_at_max_dose: bool = False
    has_active_pump: bool = False
    has_explanted_pump: bool = False
    last_dose_change_on: date | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class StageRules:
    # A patient stays in titration until their dose has been left alone this long.
    titration_ends_after_days_without_change: int = 60


def derive_stage(facts: PathwayFacts, *, today: date, rules: StageRules | None = None) -> PathwayStage:
    """The stage a patient is at, most advanced record first.

    1. A working pump: titration while the dose changed recently, else maintenance.
    2. Pumps, all explanted: explanted.
    3. A signed positive trial: awaiting implant.
    4. A signed negative trial at the top escalation dose (100 mcg): not a candidate.
    5. A performed trial (scores recorded): trial done; a booked one: trial planned.
    6. The latest referral declined: declined; otherwise referred.
    """
    rules = rules or StageRules()
    if facts.has_active_pump:
        return _titration_or_maintenance(facts.last_dose_change_on, today, rules)
    if facts.has_explanted_pump:
        return PathwayStage.EXPLANTED
    if facts.has_signed_positive_trial:
        return PathwayStage.AWAITING_IMPLANT
    if facts.has_signed_negative_trial_at_max_dose:
        return PathwayStage.NOT_CANDIDATE
    if facts.has_performed_trial:
        return PathwayStage.TRIAL_DONE
    if facts.has_planned_trial:
        return PathwayStage.TRIAL_PLANNED
    if facts.latest_referral_status == "declined":
        return PathwayStage.DECLINED
    return PathwayStage.REFERRED


def _titration_or_maintenance(last_change_on: date | None, today: date, rules: StageRules) -> PathwayStage:
    if last_change_on is None:
        return PathwayStage.TITRATION
    days_since_change = (today - last_change_on).days
    if days_since_change < rules.titration_ends_after_days_without_change:
        return PathwayStage.TITRATION
    return PathwayStage.MAINTENANCE


# Each source takes a patient id and returns the facts it knows, merged over the rest.
FactSource = Callable[[int, PathwayFacts], PathwayFacts]
FACT_SOURCES: list[FactSource] = []


def register_fact_source(source: FactSource) -> FactSource:
    """Apps call this from ``AppConfig.ready`` to contribute pathway facts."""
    if source not in FACT_SOURCES:
        FACT_SOURCES.append(source)
    return source


def referral_facts(patient_id: int, facts: PathwayFacts) -> PathwayFacts:
    from patients.models import Referral

    latest = (
        Referral.objects.active()
        .filter(patient_id=patient_id)
        .order_by("-received_on", "-pk")
        .values_list("status", flat=True)
        .first()
    )
    return replace(facts, latest_referral_status=latest)


def pathway_facts(patient_id: int) -> PathwayFacts:
    facts = referral_facts(patient_id, PathwayFacts())
    for source in FACT_SOURCES:
        facts = source(patient_id, facts)
    return facts
