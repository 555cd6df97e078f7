"""The bolus dose to suggest for a patient's next trial (domain.md section 3). Pure.

The label escalation is 50 → 75 → 100 mcg on successive days, and 25 mcg may be used
for very small children. Our choice of "very small": under 10 kg, or under 4 years old
(the age below which the label says safety is not established), so those children start
at 25 mcg and then climb the same ladder (25 → 50 → 75 → 100).

A non-responder at 100 mcg is not a pump candidate, so nothing is suggested past 100,
nor after a trial already signed positive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

ESCALATION_MCG = (Decimal("25"), Decimal("50"), Decimal("75"), Decimal("100"))
ADULT_START_MCG = Decimal("50")
SMALL_CHILD_START_MCG = Decimal("25")
TOP_ESCALATION_MCG = Decimal("100")
SMALL_CHILD_UNDER_KG = Decimal("10")
SMALL_CHILD_UNDER_YEARS = 4


@dataclass(frozen=True)
class PreviousTrial:
    performed_on: date
    bolus_dose_mcg: Decimal
    outcome: str  # "" while unsigned, else positive / negative / inconclusive


@dataclass(frozen=True)
class BolusSuggestion:
    dose_mcg: Decimal | None
    explanation: str


def age_in_years(birth_date: date, on: date) -> int:
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)


def is_very_small_child(*, weight_kg: Decimal | None, birth_date: date | None, on: date) -> bool:
    if weight_kg is not None and weight_kg < SMALL_CHILD_UNDER_KG:
        return True
    return birth_date is not None and age_in_years(birth_date, on) < SMALL_CHILD_UNDER_YEARS


def next_bolus(previous: PreviousTrial | None, *, very_small_child: bool) -> BolusSuggestion:
    """The next step of the escalation after the patient's latest trial (None: first trial)."""
    if previous is None:
        if very_small_child:
            return BolusSuggestion(SMALL_CHILD_START_MCG, "First trial: 25 mcg for a very small child.")
        return BolusSuggestion(ADULT_START_MCG, "First trial: the usual 50 mcg starting bolus.")
    last = f"{previous.bolus_dose_mcg.normalize():f} mcg on {previous.performed_on:%Y-%m-%d}"
    if previous.outcome == "positive":
        return BolusSuggestion(None, f"The trial at {last} was signed positive: no further trial is needed.")
    higher = [dose for dose in ESCALATION_MCG if dose > previous.bolus_dose_mcg]
    if not higher:
        return BolusSuggestion(None, f"The last trial was at {last}, the top of the usual escalation (100 mcg).")
    state = "unsigned" if not previous.outcome else previous.outcome
    return BolusSuggestion(higher[0], f"Next escalation step after the {state} trial at {last}.")
