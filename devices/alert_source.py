"""``mri_follow_up_missing``: an MRI whose follow-up was not recorded within 24 hours.

A row source (``alerts.sources.RowSource``): one value on the pump row, the scan date of
its oldest MRI still awaiting a follow-up (``devices.selectors.mri_scans_awaiting_follow_up``:
a SynchroMed not yet interrogated with its motor restarted, a Prometra emptied and not yet
refilled); the pure ``wanted`` dates the alert from it.
"""

from __future__ import annotations

import datetime

from django.db.models import Exists, Expression, OuterRef, Q, Subquery

from alerts.rules import MRI_FOLLOW_UP_MISSING
from alerts.sources import PumpRow, RowSource
from devices.models import MRI_FOLLOW_UP_DAYS
from devices.selectors import follow_up_missing_from, mri_scans_awaiting_follow_up

AWAITING_SINCE = "devices_mri_awaiting_since"


def _annotations(as_of: datetime.date) -> dict[str, Expression]:
    oldest = mri_scans_awaiting_follow_up().filter(pump=OuterRef("pk")).order_by("scanned_on", "pk")
    awaiting_since: Expression = Subquery(oldest.values("scanned_on")[:1])  # type: ignore[assignment]
    return {AWAITING_SINCE: awaiting_since}


def _candidates(as_of: datetime.date) -> Q:
    scanned_by = as_of - datetime.timedelta(days=MRI_FOLLOW_UP_DAYS)
    return Q(Exists(mri_scans_awaiting_follow_up().filter(pump=OuterRef("pk"), scanned_on__lte=scanned_by)))


def _wanted(row: PumpRow, as_of: datetime.date) -> dict[str, datetime.date]:
    due_on = follow_up_missing_from(row.get(AWAITING_SINCE), as_of)
    return {MRI_FOLLOW_UP_MISSING: due_on} if due_on is not None else {}


SOURCE = RowSource(
    kinds=(MRI_FOLLOW_UP_MISSING,),
    annotations=_annotations,
    candidates=_candidates,
    wanted=_wanted,
)
