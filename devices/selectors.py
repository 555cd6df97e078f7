"""Reads with rules for MRI scans and safety notices.

* An MRI's follow-up is answered by its recorded follow-up (a SynchroMed interrogated, the
  motor restarted) or, for a Prometra emptied for the scan, by the next refill
  (``refill_answers_emptying``: the SQL twin of ``pumps.projection.emptied_after``).
* A safety notice affects the watched pumps of its model whose serial is in its list or
  range (``serial_in_range``) and, when it lists drug lots, that were filled from one of them.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Upper

from devices.models import MRI_FOLLOW_UP_DAYS, MriScan, SafetyNotice, SafetyNoticePump
from pumps.models import MriProcedure, Pump, Refill

# --------------------------------------------------------------------------
# MRI follow-ups
# --------------------------------------------------------------------------


def refill_answers_emptying() -> Exists:
    """A refill of the MRI's pump after the emptying: a later day, or the same day recorded later.

    The SQL twin of ``pumps.projection.emptied_after`` (tests check that they agree).
    """
    after = Q(refilled_on__gt=OuterRef("scanned_on")) | Q(
        refilled_on=OuterRef("scanned_on"), created_at__gt=OuterRef("created_at")
    )
    return Exists(Refill.objects.filter(after, pump=OuterRef("pump"), voided_at__isnull=True))


def mri_scans_awaiting_follow_up() -> QuerySet[MriScan]:
    """MRI scans (not voided) whose model needs a follow-up that nothing has answered yet."""
    return (
        MriScan.objects.filter(voided_at__isnull=True, follow_up_recorded_at__isnull=True)
        .exclude(procedure=MriProcedure.NONE)
        .annotate(refilled_after=refill_answers_emptying())
        .exclude(procedure=MriProcedure.EMPTY_BEFORE_REFILL_AFTER, refilled_after=True)
    )


def follow_up_missing_from(scanned_on: datetime.date | None, as_of: datetime.date) -> datetime.date | None:
    """The day the follow-up was due, when it is missing on ``as_of``; else None.

    Records carry the scan's date, not its hour, so the 24 hours run out during the next
    day: the alert opens that day (at its 06:00 scan), erring early, because a pump left
    emptied or stalled delivers nothing.
    """
    if scanned_on is None:
        return None
    due_on = scanned_on + datetime.timedelta(days=MRI_FOLLOW_UP_DAYS)
    return due_on if as_of >= due_on else None


def mri_follow_up_answer(scan: MriScan) -> str:
    """What answered the scan's follow-up, in words (the MRI page); "" while it waits."""
    if scan.follow_up_recorded_at is not None:
        return f"Follow-up recorded {scan.follow_up_recorded_at:%Y-%m-%d %H:%M} by {scan.follow_up_recorded_by}"
    if scan.procedure == MriProcedure.EMPTY_BEFORE_REFILL_AFTER:
        refill = (
            Refill.objects.filter(pump_id=scan.pump_id, voided_at__isnull=True)
            .filter(Q(refilled_on__gt=scan.scanned_on) | Q(refilled_on=scan.scanned_on, created_at__gt=scan.created_at))
            .order_by("refilled_on", "pk")
            .first()
        )
        if refill is not None:
            return f"Refilled on {refill.refilled_on:%Y-%m-%d}"
    return ""


def mri_scans_of_pump(pump_id: int) -> list[MriScan]:
    return list(
        MriScan.objects.filter(pump_id=pump_id).select_related("follow_up_recorded_by").order_by("-scanned_on", "-pk")
    )


# --------------------------------------------------------------------------
# Safety notices: which pumps they affect
# --------------------------------------------------------------------------

_SERIAL_PARTS = re.compile(r"^(\D*)(\d+)(\D*)$")


def serial_parts(serial: str) -> tuple[str, str, str] | None:
    """'NGP200123H' → ('NGP', '200123', 'H'): letters, the one run of digits, letters.

    Case and surrounding spaces are ignored. None for a serial with no digits or more than
    one run of digits (it cannot be placed in a range).
    """
    match = _SERIAL_PARTS.match(serial.strip().upper())
    return (match.group(1), match.group(2), match.group(3)) if match else None


def serial_range_errors(serial_from: str, serial_to: str) -> list[str]:
    """A range needs both ends, of the same shape (prefix, number of digits, suffix), in order."""
    if not serial_from.strip() and not serial_to.strip():
        return []
    low, high = serial_parts(serial_from), serial_parts(serial_to)
    if low is None or high is None:
        return ["Give both ends of the range as serial numbers with one run of digits, e.g. NGP200100H."]
    if (low[0], len(low[1]), low[2]) != (high[0], len(high[1]), high[2]):
        return [
            f"{serial_from} and {serial_to} differ in shape: a range keeps the same letters before and after "
            "the number and the same number of digits."
        ]
    if int(low[1]) > int(high[1]):
        return [f"The range starts after it ends ({serial_from} > {serial_to})."]
    return []


def serial_in_range(serial: str, serial_from: str, serial_to: str) -> bool:
    """True when ``serial`` lies in the range ``serial_from``–``serial_to``, both ends included.

    Serials are compared as their parts, never as plain strings ('NGP99' would sort after
    'NGP100'): the same letters before and after the number, the same number of digits, and
    the number between the two ends. A serial of another shape is outside the range.
    """
    parts, low, high = serial_parts(serial), serial_parts(serial_from), serial_parts(serial_to)
    if parts is None or low is None or high is None:
        return False
    same_shape = (parts[0], len(parts[1]), parts[2]) == (low[0], len(low[1]), low[2])
    return same_shape and int(low[1]) <= int(parts[1]) <= int(high[1])


def _normalised(values: Iterable[str]) -> set[str]:
    return {value.strip().upper() for value in values if value.strip()}


def serial_matches(notice: SafetyNotice, serial: str) -> bool:
    """The notice names this serial: in its list or its range; a notice naming neither covers the model."""
    listed = _normalised(notice.serial_numbers or [])
    has_range = bool(notice.serial_from.strip() and notice.serial_to.strip())
    if not listed and not has_range:
        return True
    in_list = serial.strip().upper() in listed
    return in_list or (has_range and serial_in_range(serial, notice.serial_from, notice.serial_to))


@dataclass
class AffectedPump:
    pump: Pump
    acknowledgement: SafetyNoticePump | None

    @property
    def addressed(self) -> bool:
        return self.acknowledgement is not None


def notices_affected_pumps(notices: Sequence[SafetyNotice]) -> dict[int, list[AffectedPump]]:
    """Each notice's affected pumps with their acknowledgement, for any number of notices.

    Three queries: the watched pumps of the notices' models, the lots their refills came
    from (only when a notice lists lots), and the acknowledgements (not voided).
    """
    if not notices:
        return {}
    model_ids = {notice.pump_model_id for notice in notices}
    pumps = list(
        Pump.objects.watched()
        .filter(model_id__in=model_ids)
        .select_related("patient", "model")
        .order_by("serial_number")
    )
    lots = _pump_lots(pumps, [lot for notice in notices for lot in notice.lot_numbers or []])
    acks: dict[tuple[int, int], SafetyNoticePump] = {
        (ack.notice_id, ack.pump_id): ack
        for ack in SafetyNoticePump.objects.filter(
            notice__in=[notice.pk for notice in notices], voided_at__isnull=True
        ).select_related("acknowledged_by")
    }
    affected: dict[int, list[AffectedPump]] = {}
    for notice in notices:
        wanted_lots = _normalised(notice.lot_numbers or [])
        affected[notice.pk] = [
            AffectedPump(pump, acks.get((notice.pk, pump.pk)))
            for pump in pumps
            if pump.model_id == notice.pump_model_id
            and serial_matches(notice, pump.serial_number)
            and (not wanted_lots or wanted_lots & lots.get(pump.pk, set()))
        ]
    return affected


def _pump_lots(pumps: Sequence[Pump], wanted: Sequence[str]) -> dict[int, set[str]]:
    """The listed lots each pump was filled from (refills not voided), upper-cased; no query without lots."""
    wanted_lots = _normalised(wanted)
    if not wanted_lots or not pumps:
        return {}
    lots: dict[int, set[str]] = defaultdict(set)
    rows = (
        Refill.objects.filter(pump__in=[pump.pk for pump in pumps], voided_at__isnull=True)
        .annotate(lot=Upper("lot_number"))
        .filter(lot__in=wanted_lots)
        .values_list("pump_id", "lot")
    )
    for pump_id, lot in rows:
        lots[pump_id].add(lot)
    return lots


def notice_affected_pumps(notice: SafetyNotice) -> list[AffectedPump]:
    return notices_affected_pumps([notice])[notice.pk]


@dataclass
class OpenNotice:
    notice: SafetyNotice
    affected: int
    unaddressed: int


def open_notices_with_unaddressed_pumps() -> list[OpenNotice]:
    """Notices not closed or voided with at least one affected pump not yet acknowledged (four queries)."""
    notices = list(SafetyNotice.objects.filter(voided_at__isnull=True, closed_on__isnull=True).order_by("-issued_on"))
    affected = notices_affected_pumps(notices)
    rows = [
        OpenNotice(notice, len(affected[notice.pk]), sum(not row.addressed for row in affected[notice.pk]))
        for notice in notices
    ]
    return [row for row in rows if row.unaddressed]
