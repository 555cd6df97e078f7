"""The notification outbox: each email written once, claimed once, sent once.

1. *Queue*: a row per email with a unique ``dedupe_key`` (``get_or_create``): a second
   digest run, a retried task or a second worker finds the first row instead of
   writing another.
2. *Claim*: a compare-and-swap ``UPDATE … WHERE status IN (pending, failed)`` that
   only one worker can win (as healthchecks claims its checks). The loser skips it.
3. *Check*: emails go only for alerts still unresolved when sent. An immediate email
   whose alert was answered meanwhile (a refill an hour after the scan) is marked
   ``skipped``; a digest lists only the alerts still actionable, or is ``skipped`` when
   none is left.
4. *Send*, then mark ``sent``; on an error mark ``failed`` with the error and the
   attempt count. ``notifications_send_pending`` (every 10 minutes) retries failed
   rows until ``MAX_ATTEMPTS``; administrators see the failures on a page.

A worker that dies between claim and mark leaves a ``sending`` row. After
``STALE_SENDING_AFTER`` it is marked failed and retried: the email may then arrive
twice, which for a withdrawal-risk warning is the safer error than never arriving.

Emails carry the MRN and the patient's initials, not their full name: the link opens
the clinic system, where the rest is.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from alerts.bulk_writes import insert_rows
from alerts.models import Alert, AlertQuerySet, Notification, NotificationChannel, NotificationKind, NotificationStatus
from spasticity.id_lists import ids_in
from spasticity.roles import Role
from spasticity.sms import send_sms

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_AFTER = datetime.timedelta(minutes=5)
STALE_SENDING_AFTER = datetime.timedelta(minutes=15)


def _site_url(path: str) -> str:
    return f"{getattr(settings, 'CLINIC_SITE_URL', '').rstrip('/')}{path}"


# Set by ``notifications_skipped``: the reason why rows queued now are never to be sent.
_skip_reason: ContextVar[str] = ContextVar("notifications_skip_reason", default="")


@contextmanager
def notifications_skipped(*, reason: str) -> Iterator[None]:
    """Rows queued inside the block are written ``skipped`` with ``reason``: nothing is emailed.

    For the demo seeder: it records months of history as of today, so it raises (and
    resolves) urgent alerts along the way, and its nurses are not people to email.
    """
    token = _skip_reason.set(reason)
    try:
        yield
    finally:
        _skip_reason.reset(token)


def active_pump_nurses() -> list[User]:
    return list(User.objects.filter(groups__name=Role.PUMP_NURSE.value, is_active=True).order_by("pk").distinct())


def _queue(
    *, key: str, kind: str, recipient: User, for_date: datetime.date, subject: str, body: str, alerts: Iterable[Alert]
) -> tuple[Notification, bool]:
    skip_reason = _skip_reason.get()
    notification, created = Notification.objects.get_or_create(
        dedupe_key=key,
        defaults={
            "kind": kind,
            "recipient": recipient,
            "to_email": recipient.email,
            "for_date": for_date,
            "subject": subject[:200],
            "body": body,
            "status": NotificationStatus.SKIPPED if skip_reason else NotificationStatus.PENDING,
            "last_error": skip_reason,
        },
    )
    if created:
        notification.alerts.set(list(alerts))
    return notification, created


# --------------------------------------------------------------------------
# Immediate: a new past_alarm_date alert
# --------------------------------------------------------------------------


def immediate_queue_many(alert_ids: list[int], *, as_of: datetime.date) -> list[int]:
    """Queue the immediate email(s) for new ``past_alarm_date`` alerts; returns the new row ids to send.

    Set-based for the scan, however many alerts: one read of the alerts, one of the pump
    nurses (only when a patient has no active nurse of their own), one insert of the rows
    and one of their links to the alerts (``alerts.bulk_writes``). The alerts are new, so
    their dedupe keys (``immediate:<alert>:<recipient>``) cannot exist yet.

    The body is written when the email is sent (``_immediate_body``), from the alert as it
    then stands: rendering a template per email here cost a third of a first scan that
    raises thousands at once, and the sending reads the alert anyway.
    """
    alerts = Alert.objects.filter(pk__in=ids_in(alert_ids)).values_list(
        "pk",
        "patient__mrn",
        "pump__serial_number",
        "patient__assigned_nurse_id",
        "patient__assigned_nurse__email",
        "patient__assigned_nurse__is_active",
    )
    everyone: list[tuple[int, str]] | None = None
    rows: dict[str, list[Any]] = {"dedupe_key": [], "recipient_id": [], "to_email": [], "subject": []}
    alert_of_key: dict[str, int] = {}
    for alert_id, mrn, serial_number, nurse_id, nurse_email, nurse_active in alerts:
        # The patient's pump nurse; when they have none (or no longer work here), every pump nurse.
        if nurse_id is not None and nurse_active:
            recipients = [(nurse_id, nurse_email)]
        else:
            if everyone is None:
                everyone = [(nurse.pk, nurse.email) for nurse in active_pump_nurses()]
            recipients = everyone
        subject = f"URGENT: pump past its alarm date, {mrn} (pump {serial_number})"[:200]
        for recipient_id, email in recipients:
            key = f"immediate:{alert_id}:{recipient_id}"
            alert_of_key[key] = alert_id
            for column, value in zip(rows, (key, recipient_id, email, subject), strict=True):
                rows[column].append(value)
    return _insert_immediate_rows(rows, alert_of_key, as_of=as_of)


def _insert_immediate_rows(
    rows: dict[str, list[Any]], alert_of_key: dict[str, int], *, as_of: datetime.date
) -> list[int]:
    skip_reason = _skip_reason.get()
    status = NotificationStatus.SKIPPED if skip_reason else NotificationStatus.PENDING
    constants = {
        "kind": NotificationKind.IMMEDIATE.value,
        "for_date": as_of,
        "body": "",
        "status": status.value,
        "last_error": skip_reason,
    }
    now = timezone.now()
    created = insert_rows(Notification, rows, constants=constants, now=now, returning=("id", "dedupe_key"))
    links = {
        "notification_id": [notification_id for notification_id, _key in created],
        "alert_id": [alert_of_key[key] for _id, key in created],
    }
    insert_rows(Notification.alerts.through, links, constants={}, now=now)
    if status != NotificationStatus.PENDING:
        return []
    return sorted(notification_id for notification_id, _key in created)


def _immediate_body(notification: Notification, alert: Alert) -> str:
    """The immediate email's text, for the alert as it stands when the email is sent."""
    as_of = notification.for_date
    return render_to_string(
        "alerts/email/immediate.txt",
        {
            "recipient": notification.recipient,
            "alert": alert,
            "as_of": as_of,
            "line": alert_line(alert, as_of=as_of),
        },
    )


def notifications_send_soon() -> None:
    """After the current transaction commits, ask a worker to send the pending rows.

    If the broker is unreachable the request still succeeds (the failure is logged) and
    the periodic retry sends them.
    """

    def enqueue() -> None:
        from alerts.jobs import task_enqueue
        from alerts.tasks import notifications_send_task

        task_enqueue(notifications_send_task)

    transaction.on_commit(enqueue, robust=True)


# --------------------------------------------------------------------------
# The daily digest
# --------------------------------------------------------------------------


def alert_line(alert: Alert, *, as_of: datetime.date) -> str:
    patient, pump = alert.patient, alert.pump
    initials = f"{patient.given_name[:1]}.{patient.family_name[:1]}."
    days = (as_of - alert.due_on).days
    when = f"{days} days ago" if days > 0 else ("today" if days == 0 else f"in {-days} days")
    state = ""
    if alert.status == "acknowledged" and alert.acknowledged_by is not None:
        state = f" [acknowledged by {alert.acknowledged_by.get_full_name() or alert.acknowledged_by.username}]"
    return (
        f"{alert.get_kind_display().upper()}: {patient.mrn} ({initials}), pump {pump.serial_number}, "
        f"{alert.due_on:%Y-%m-%d} ({when}){state} {_site_url(reverse('alerts:detail', args=[alert.pk]))}"
    )


def digest_actionable_alerts() -> AlertQuerySet:
    """What a digest lists: actionable alerts (open or acknowledged, not snoozed) on watched pumps,
    most urgent first. Read when the digest is queued and again when it is sent."""
    return (
        Alert.objects.actionable()
        .on_watched_pumps()
        .select_related("patient__assigned_nurse", "pump", "acknowledged_by")
        .by_urgency()
    )


def digest_content(*, recipient: User, as_of: datetime.date, alerts: list[Alert]) -> tuple[str, str]:
    """The digest's subject and body for ``alerts``."""
    body = render_to_string(
        "alerts/email/digest.txt",
        {
            "recipient": recipient,
            "as_of": as_of,
            "lines": [alert_line(alert, as_of=as_of) for alert in alerts],
            "worklist_url": _site_url(reverse("alerts:worklist")),
        },
    )
    return f"Pump alerts for {as_of:%d %b %Y}: {len(alerts)} to act on", body


def digest_alerts_by_nurse(*, nurses: list[User]) -> dict[int, list[Alert]]:
    """Actionable alerts (open or acknowledged, not snoozed) per nurse, most urgent first.

    A nurse gets their own patients' alerts plus those of patients with no active pump
    nurse, so that no alert reaches nobody. One query.
    """
    nurse_ids = {nurse.pk for nurse in nurses}
    alerts = digest_actionable_alerts()
    by_nurse: dict[int, list[Alert]] = {nurse_id: [] for nurse_id in nurse_ids}
    for alert in alerts:
        nurse_id = alert.patient.assigned_nurse_id
        if nurse_id in nurse_ids:
            by_nurse[nurse_id].append(alert)
        else:
            for alerts_of_nurse in by_nurse.values():
                alerts_of_nurse.append(alert)
    return by_nurse


def digest_queue(*, as_of: datetime.date) -> list[int]:
    """Queue today's digest for each pump nurse with something to act on; returns the new row ids.

    Idempotent per nurse and date (``digest:<nurse id>:<date>``): running it again, or two
    workers at once, queues nothing more.
    """
    nurses = active_pump_nurses()
    ids = []
    by_nurse = digest_alerts_by_nurse(nurses=nurses)
    for nurse in nurses:
        alerts = by_nurse[nurse.pk]
        if not alerts:
            continue  # actionable alerts only: no empty "all clear" emails
        subject, body = digest_content(recipient=nurse, as_of=as_of, alerts=alerts)
        notification, created = _queue(
            key=f"digest:{nurse.pk}:{as_of:%Y-%m-%d}",
            kind=NotificationKind.DIGEST,
            recipient=nurse,
            for_date=as_of,
            subject=subject,
            body=body,
            alerts=alerts,
        )
        if created and notification.status == NotificationStatus.PENDING:
            ids.append(notification.pk)
    return ids


# --------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------


def notification_claim(notification_id: int, *, now: datetime.datetime) -> bool:
    """Compare-and-swap: move the row to ``sending`` only if nobody else has. True if we won."""
    claimed = Notification.objects.filter(
        pk=notification_id,
        status__in=[NotificationStatus.PENDING, NotificationStatus.FAILED],
        attempts__lt=MAX_ATTEMPTS,
    ).update(status=NotificationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    return claimed == 1


# A kind of row not built from alerts registers its own check (``register_send_check``, from its
# app's ``ready``): called on the claimed row, it may bring the row up to date and returns why it
# is no longer to be sent, or "" to send it (an appointment reminder: the appointment still booked).
SendCheck = Callable[[Notification], str]
SEND_CHECKS: dict[str, SendCheck] = {}


def register_send_check(kind: str, check: SendCheck) -> None:
    SEND_CHECKS[kind] = check


def _refresh_before_sending(notification: Notification) -> str:
    """Bring a claimed row up to date with its alerts; returns why it is not to be sent, or "".

    An immediate email goes while its alert is unresolved. A digest is brought up to date:
    it lists only the alerts still actionable now (subject, body and alerts rewritten when
    some were answered). A kind with a registered check is checked by it; any other row not
    built from alerts is sent as it is.
    """
    if notification.kind in SEND_CHECKS:
        return SEND_CHECKS[notification.kind](notification)
    queued = list(notification.alerts.select_related("patient", "pump", "acknowledged_by"))
    if not queued:
        return ""
    if notification.kind == NotificationKind.IMMEDIATE:
        unresolved = [alert for alert in queued if not alert.is_resolved and not alert.is_voided]
        if not unresolved:
            return "Not sent: alert resolved before sending."
        if not notification.body:  # queued by the scan without its text (``immediate_queue_many``)
            notification.body = _immediate_body(notification, unresolved[0])
            Notification.objects.filter(pk=notification.pk).update(body=notification.body)
        return ""
    current = list(digest_actionable_alerts().filter(pk__in=[alert.pk for alert in queued]))
    if not current:
        return "Not sent: no alert left to act on (all resolved or snoozed before sending)."
    if len(current) != len(queued) and notification.recipient is not None:
        notification.subject, notification.body = digest_content(
            recipient=notification.recipient, as_of=notification.for_date, alerts=current
        )
        Notification.objects.filter(pk=notification.pk).update(subject=notification.subject, body=notification.body)
        notification.alerts.set(current)
    return ""


def notification_send(notification_id: int, *, now: datetime.datetime | None = None) -> str:
    """Claim, check, send and mark one outbox row.

    Returns ``sent``, ``failed``, ``skipped`` (marked so: its alerts were answered) or
    ``not_ours`` (another worker claimed it).
    """
    now = now or timezone.now()
    if not notification_claim(notification_id, now=now):
        return "not_ours"
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    reason = _refresh_before_sending(notification)
    if reason:
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
            status=NotificationStatus.SKIPPED, last_error=reason
        )
        return "skipped"
    try:
        sent_to = _deliver(notification)
    except Exception as error:
        logger.exception("Notification %s (%s) failed", notification.pk, notification.dedupe_key)
        Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
            status=NotificationStatus.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        return "failed"
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.SENDING).update(
        status=NotificationStatus.SENT, sent_at=timezone.now(), last_error="", **sent_to
    )
    return "sent"


def _deliver(notification: Notification) -> dict[str, str]:
    """Send the row by its channel; returns the address it went to, to store on the row."""
    if notification.channel == NotificationChannel.SMS:
        if not notification.to_phone:
            raise ValueError("No phone number to send the text message to.")
        send_sms(notification.to_phone, notification.body)
        return {"to_phone": notification.to_phone}
    # The account's current address, so that fixing a missing or wrong address fixes the retry.
    to_email = (notification.recipient.email if notification.recipient else "") or notification.to_email
    if not to_email:
        raise ValueError(
            f"{notification.recipient} has no email address on their account."
            if notification.recipient
            else "No email address to send to."
        )
    EmailMessage(notification.subject, notification.body, to=[to_email]).send()
    return {"to_email": to_email}


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # marked skipped: nothing left to tell
    not_ours: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)


def notifications_due(*, now: datetime.datetime) -> list[int]:
    """Pending rows, and failed rows with attempts left whose last try is ``RETRY_AFTER`` old."""
    return list(
        Notification.objects.filter(
            Q(status=NotificationStatus.PENDING)
            | Q(status=NotificationStatus.FAILED, attempts__lt=MAX_ATTEMPTS, claimed_at__lte=now - RETRY_AFTER)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def notifications_release_stale(*, now: datetime.datetime) -> int:
    """Rows left ``sending`` by a worker that died become ``failed`` so that they are retried."""
    return Notification.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lt=now - STALE_SENDING_AFTER
    ).update(
        status=NotificationStatus.FAILED,
        last_error="The worker stopped while sending; retrying (the email may arrive twice).",
    )


def notifications_send_pending(*, now: datetime.datetime | None = None) -> SendResult:
    """Send everything due in the outbox (safe to run on several workers at once)."""
    now = now or timezone.now()
    notifications_release_stale(now=now)
    result = SendResult()
    for notification_id in notifications_due(now=now):
        outcome = notification_send(notification_id, now=now)
        result.outcomes[notification_id] = outcome
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def notifications_failed() -> list[Notification]:
    """For the administrators' page: every row that failed, newest first, with its error."""
    return list(
        Notification.objects.filter(status=NotificationStatus.FAILED)
        .select_related("recipient")
        .order_by("-claimed_at", "-pk")
    )
