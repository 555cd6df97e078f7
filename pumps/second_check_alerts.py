"""The second-check alert kinds, decided from the scan's one pump row (``alerts.sources.RowSource``).

Two kinds (spec "Programming safety"; ranks in ``alerts.rules``):

* ``second_check_missing``: a refill or dose change still ``awaiting_second_check`` after
  ``CLINIC["SECOND_CHECK_HOURS"]``. The scan works in whole days (``as_of``), so the window
  starts on the later of the record's date and the day it was entered (a refill entered three
  days after the fact has not been waiting three days), lasts the hours rounded up to whole
  days, and the alert is raised on the first day after it: recorded on the 15th with 24 hours,
  raised from the 17th (never before the hours have passed, at most a day after). Dated with
  the day the wait started. The check itself (agreeing or not), or voiding the record,
  answers it.
* ``second_check_disagreed``: a colleague disagreed with a refill or dose change that is
  already programmed: the pump may be delivering the wrong dose now. Dated with the disputed
  record's date. Answered when the disputed record is voided (it was wrong: record it again),
  or when a later refill or dose change on the pump has been checked by a colleague (the
  program was corrected and confirmed). A later record that needed no check does not answer
  it: a small step from a wrong program is still wrong.

The scan adds four values to its pump row (the earliest wait and the earliest unanswered
disagreement, for refills and for dose changes) and ``second_check_alerts`` decides from
plain values.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.conf import settings
from django.db.models import Exists, Expression, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Greatest, TruncDate

from alerts import rules
from alerts.sources import PumpRow, RowSource
from pumps.models import CheckStatus, DoseChange, Refill

KINDS = (rules.SECOND_CHECK_DISAGREED, rules.SECOND_CHECK_MISSING)
CheckedModel = type[Refill] | type[DoseChange]
# Row annotation names → the model they read.
WAITING: dict[str, CheckedModel] = {
    "pumps_refill_check_waiting_since": Refill,
    "pumps_dose_check_waiting_since": DoseChange,
}
DISAGREED: dict[str, CheckedModel] = {"pumps_refill_disagreed_on": Refill, "pumps_dose_disagreed_on": DoseChange}
RECORD_DATE: dict[CheckedModel, str] = {Refill: "refilled_on", DoseChange: "changed_on"}
OPEN_STATUSES = (CheckStatus.AWAITING_SECOND_CHECK, CheckStatus.DISAGREED)


def second_check_hours() -> int:
    return int(settings.CLINIC.get("SECOND_CHECK_HOURS", 24))


def second_check_alerts(
    *, as_of: dt.date, waiting_since: dt.date | None, disagreed_on: dt.date | None, window_hours: int
) -> dict[str, dt.date]:
    """The second-check alerts a watched pump needs on ``as_of``, each with the date it is about (pure)."""
    wanted: dict[str, dt.date] = {}
    if disagreed_on is not None:
        wanted[rules.SECOND_CHECK_DISAGREED] = disagreed_on
    if waiting_since is not None:
        window_days = max(1, math.ceil(window_hours / 24))
        if as_of > waiting_since + dt.timedelta(days=window_days):
            wanted[rules.SECOND_CHECK_MISSING] = waiting_since
    return wanted


def _records(model: CheckedModel) -> QuerySet[Any]:
    return model.objects.filter(pump=OuterRef("pk"), voided_at__isnull=True)


def _waiting_since(model: CheckedModel) -> Any:
    """The earliest day an awaiting record of the pump started waiting (its date, or the day it was entered)."""
    awaiting = (
        _records(model)
        .filter(check_status=CheckStatus.AWAITING_SECOND_CHECK)
        .annotate(waiting_since=Greatest(F(RECORD_DATE[model]), TruncDate("created_at")))
        .order_by("waiting_since")
    )
    return Subquery(awaiting.values("waiting_since")[:1])


def _checked_later(model: CheckedModel) -> Exists:
    """A record of ``model`` on the disputed record's pump, entered after it and checked by a colleague."""
    return Exists(
        model.objects.filter(
            pump=OuterRef("pump"),
            voided_at__isnull=True,
            check_status=CheckStatus.CHECKED,
            created_at__gt=OuterRef("created_at"),
        )
    )


def _disagreed_on(model: CheckedModel) -> Any:
    """The earliest date of a disputed record of the pump that nothing has answered yet."""
    date_field = RECORD_DATE[model]
    disputed = (
        _records(model)
        .filter(check_status=CheckStatus.DISAGREED)
        .exclude(_checked_later(Refill))
        .exclude(_checked_later(DoseChange))
        .order_by(date_field)
    )
    return Subquery(disputed.values(date_field)[:1])


def _annotations(as_of: dt.date) -> dict[str, Expression]:
    annotations: dict[str, Any] = {name: _waiting_since(model) for name, model in WAITING.items()}
    annotations |= {name: _disagreed_on(model) for name, model in DISAGREED.items()}
    return annotations


def _candidates(as_of: dt.date) -> Q:
    """The pumps with a refill or dose change awaiting its check or disputed (few, by the pump index)."""
    return Q(Exists(_records(Refill).filter(check_status__in=OPEN_STATUSES))) | Q(
        Exists(_records(DoseChange).filter(check_status__in=OPEN_STATUSES))
    )


def _earliest(row: PumpRow, names: dict[str, Any]) -> dt.date | None:
    dates = [row[name] for name in names if row[name] is not None]
    return min(dates) if dates else None


def _wanted(row: PumpRow, as_of: dt.date) -> dict[str, dt.date]:
    return second_check_alerts(
        as_of=as_of,
        waiting_since=_earliest(row, WAITING),
        disagreed_on=_earliest(row, DISAGREED),
        window_hours=second_check_hours(),
    )


SOURCE = RowSource(kinds=KINDS, annotations=_annotations, candidates=_candidates, wanted=_wanted)
