"""Template helpers for trials: dose formatting and the patient page's trials panel."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from spasticity.roles import PERMS
from spasticity.timeutil import clinic_today
from trials import selectors

register = template.Library()


@register.filter
def mcg(value: Decimal | None) -> str:
    """``Decimal("50.0")`` → ``"50 mcg"`` (no trailing zeros, never "5E+1")."""
    if value is None:
        return "—"
    return f"{Decimal(value).normalize():f} mcg"


@register.filter
def gas_level(value: int | None) -> str:
    """GAS levels with their sign: −2, −1, 0, +1, +2."""
    if value is None:
        return "—"
    return f"+{value}" if value > 0 else ("−" + str(-value) if value < 0 else "0")


@register.filter
def level_text(goal: Any, level: int) -> str:
    """``goal|level_text:level``: the goal's description of one GAS level."""
    return str(goal.level_description(level))


@register.filter
def field_named(form: Any, name: str) -> Any:
    """``form|field_named:name``: a bound field by a name held in a variable."""
    return form[name]


@register.inclusion_tag("trials/partials/patient_panel_body.html", takes_context=True)
def trials_panel(context: Any, patient: Any) -> dict[str, Any]:
    """The patient page's trials and goals panel: five queries however many trials or goals."""
    user = context["request"].user
    today = clinic_today()
    goals = selectors.patient_goals(patient.pk)
    can_plan = user.has_perm(PERMS.PLAN_TRIAL)
    return {
        "patient": patient,
        "trials": selectors.patient_trials(patient.pk),
        "suggestion": selectors.trial_suggested_bolus(patient, today=today) if can_plan else None,
        "can_plan": can_plan,
        "can_manage_goals": user.has_perm(PERMS.MANAGE_GOAL),
        "goals": goals,
        "attainment": selectors.goal_attainment(goals, on=today),
    }
