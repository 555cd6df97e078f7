"""Every write stays quick: a fixed number of statements, whatever the pump's history.

A refill, a dose change, a void and a catalogue edit each lock what they change, check
it, save it with its history row, and then recompute the pump's stored dates, refresh
its alerts and its patient's pathway stage in the same transaction.

What is counted: every entry ``CaptureQueriesContext`` records, exactly as Django
reports it. That includes the write's own transaction bracket, two entries:

* in a request (``ATOMIC_REQUESTS`` is off, so the service's ``atomic`` is the outermost
  one) Django reports ``BEGIN`` and ``COMMIT``
  (``test_a_refill_in_its_own_transaction_takes_16_statements_and_its_bracket``);
* inside a test's transaction the same ``atomic`` is a savepoint: ``SAVEPOINT`` and
  ``RELEASE SAVEPOINT`` (every other test here).

The ``*_STATEMENTS`` figures are the statements inside the bracket: what the benchmark
(``scripts/bench_caseload.py``, which counts with ``execute_wrapper`` and so sees
savepoints but not ``BEGIN``/``COMMIT``) reports for one refill. No other savepoint is
left inside: the alert refresh joins the caller's transaction, and the recompute writes
only the pump's derived columns, so the pump's unique constraints (each checked in a
savepoint of its own) are not checked again.

The user's permissions are read once per request (the page checks the role before the
service does, with the same user object), so each persona's permission cache is filled
before counting.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert
from alerts.services import alerts_refresh_for_pump
from patients.services import patient_refresh_stage
from pumps import services
from pumps.models import Pump, PumpModel, Refill
from pumps.services import FillDetails
from spasticity.audit import validate_record, void_record
from tests.factories import PumpFactory, PumpModelFactory

D = Decimal
# A small fill runs out in about a month, so that each refill answers a refill-overdue alert.
FILL_ML = D("10")
CYCLE_DAYS = 30
# Alternating, so that every cycle is a real dose change (the patient stays in titration);
# both pumps counted have an odd number of cycles, so both end on 500 mcg/day.
DOSES_MCG = (D("520"), D("500"))
SHORT, LONG = 1, 31  # months of history: 2 fills and 2 programs against 32 and 32
# The write's own transaction: BEGIN and COMMIT, or SAVEPOINT and RELEASE inside a test's transaction.
BRACKET = 2

# What each write costs in a request (its transaction the outermost one), statement by statement:
REFILL_STATEMENTS = (
    3  # lock the pump (with its catalogue entry and patient); read its refills; its dose programs
    + 2  # insert the refill; its history row
    + 2  # update the pump's derived columns; its history row
    + 3  # the alert chunk's advisory lock; the alerts the pump needs; its unresolved alerts, locked
    + 2  # resolve the refill-overdue alert (one UPDATE); its history row (one INSERT)
    + 4  # the pathway stage's facts: latest referral, trials, pumps, dose programs (unchanged: no write)
)
DOSE_CHANGE_STATEMENTS = (
    3  # lock the pump; its refills; its dose programs
    + 2  # insert the dose change; its history row
    + 2  # update the pump's derived columns; its history row
    + 3  # advisory lock; the alerts wanted; the unresolved alerts, locked
    + 2  # the open refill-overdue alert's date moves (one UPDATE); its history row
    + 4  # the pathway stage's facts (still titration: no write)
)
HALVED_DOSE_MCG = D("260")  # moves the alarm (and refill-due) date of the fill in the pump by a day
VOID_STATEMENTS = (
    2  # update the refill's void columns (only those are written, and checked); its history row
    + 1  # the refill's pump, which its own rules (``Refill.clean``) read
    + 3  # lock the pump; its refills; its dose programs (read again: the void changed them)
    + 2  # update the pump's derived columns; its history row
    + 3  # advisory lock; the alerts wanted; the unresolved alerts, locked
    + 1  # the pump is past its alarm date again: insert the alert with its history row (one statement)
    + 4  # the urgent email: read the new alert, its recipients; insert the notification and its link
    + 4  # the pathway stage's facts
    + 3  # voided today, long after the last dose change: the stage moves to maintenance
    # (the patient's MRN stays unique; update the stage; its history row)
)
CATALOGUE_EDIT_STATEMENTS = (
    1  # the battery life before the edit
    + 1  # the reservoir sizes of the implanted pumps of this model (DISTINCT: one row per size)
    + 1  # lock the entry and check its version
    + 1  # the manufacturer and model stay unique
    + 2  # update the entry; its history row (the pumps' dates move in a job after the commit)
)


# A visit that answers its booking (``appointments.services.appointment_mark_attended_for``): the booking
# is read with the pump row (no statement when there is none); when there is one, these more:
ANSWERED_BOOKING_STATEMENTS = 3  # lock the booked appointment; update its status; its history row


@pytest.fixture(autouse=True)
def refill_not_booked_within_a_week(settings: Any) -> None:
    """The pumps here are refilled monthly, so each is always due within the default 30 days and
    ``refill_not_booked`` would stay open throughout; within a week, the refill answers it with the
    refill-overdue alert (one bulk UPDATE and one history INSERT for both, as counted)."""
    settings.CLINIC = {**settings.CLINIC, "REFILL_NOT_BOOKED_DAYS": 7}


def statements(write: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        write()
    return [query["sql"] for query in captured.captured_queries]


def shape(sqls: list[str]) -> list[str]:
    """Each statement as its verb and table, for a readable failure message."""
    return [" ".join(re.findall(r'^\w+|(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)[:2]) or sql[:40] for sql in sqls]


def warm(user: User) -> User:
    user.get_all_permissions()  # as the page's own role check does, earlier in the request
    return user


def expected_residual_ml(pump: Pump, on: dt.date) -> Decimal:
    """What the projection expects to be left, so that the delivery check is within range."""
    draft = services.refill_preview(
        pump=pump,
        refilled_on=on,
        fill=FillDetails(
            volume_added_ml=FILL_ML,
            drug="lioresal",
            concentration_mcg_per_ml=D("2000"),
            lot_number="L",
            aspirated_volume_ml=D("0"),  # any value: the expected residual does not depend on it
        ),
    )
    assert draft.delivery is not None
    return draft.delivery.expected_residual_ml


def refill_kwargs(pump: Pump, by: User, on: dt.date) -> dict[str, Any]:
    """A refill on ``on`` whose residual is the one expected (read before counting)."""
    return {
        "pump": pump,
        "by": by,
        "refilled_on": on,
        "aspirated_volume_ml": expected_residual_ml(pump, on),
        "volume_added_ml": FILL_ML,
        "drug": "lioresal",
        "concentration_mcg_per_ml": D("2000"),
        "lot_number": "LOT-CYCLE",
        "reservoir_port_access_confirmed": True,
        "pump_running_confirmed": True,
        "observation_signs": ["none_observed"],
        "today": on,
    }


def refill(pump: Pump, by: User, on: dt.date) -> Refill:
    return services.refill_record(**refill_kwargs(pump, by, on))


def change_dose(pump: Pump, by: User, on: dt.date, dose_mcg: Decimal, **extra: Any) -> None:
    services.dose_change_record(
        pump=pump, by=by, changed_on=on, daily_dose_mcg=dose_mcg, reason="Titration", today=on, **extra
    )


def due_day(pump: Pump) -> dt.date:
    """A month after the last fill: the day each write is counted on."""
    assert pump.last_refill_on is not None
    return pump.last_refill_on + dt.timedelta(days=CYCLE_DAYS)


def pump_with_history(cycles: int, *, surgeon: User, nurse: User) -> Pump:
    """A pump with ``cycles`` months behind it, each: an overdue alert, the refill that
    answers it and a dose change. Returns it due again, on ``due_day``."""
    pump: Pump = PumpFactory(by=surgeon, volume_added_ml=FILL_ML, daily_dose_mcg=DOSES_MCG[0])
    for cycle in range(1, cycles + 1):
        on = due_day(pump)
        alerts_refresh_for_pump(pump, as_of=on, by=nurse)
        refill(pump, nurse, on)
        change_dose(pump, nurse, on, DOSES_MCG[cycle % 2])
    ready(pump, nurse)
    return pump


def ready(pump: Pump, by: User) -> None:
    """As the 06:00 scan leaves the pump on the day it is counted: its alert open, its stage current."""
    alerts_refresh_for_pump(pump, as_of=due_day(pump), by=by)
    patient_refresh_stage(pump.patient, by=by, today=due_day(pump))
    pump.refresh_from_db()
    assert Alert.objects.unresolved().filter(pump=pump, kind="refill_overdue").count() == 1


@pytest.fixture
def short_and_long(db: None, surgeon: User, nurse: User) -> tuple[Pump, Pump]:
    """The same write is counted on a pump with one month behind it and one with thirty-one."""
    return (
        pump_with_history(SHORT, surgeon=surgeon, nurse=nurse),
        pump_with_history(LONG, surgeon=surgeon, nurse=nurse),
    )


def assert_count(sqls: list[str], expected: int) -> None:
    assert len(sqls) == expected, "\n".join(f"{n:2}. {line}" for n, line in enumerate(shape(sqls), 1))


# --------------------------------------------------------------------------
# A refill: 16 statements in a request
# --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_refill_in_its_own_transaction_takes_16_statements_and_its_bracket(surgeon, nurse):
    """As in a request: the service's transaction is the outermost one, and the refill answers an alert."""
    pump = pump_with_history(SHORT, surgeon=surgeon, nurse=warm(nurse))
    kwargs = refill_kwargs(pump, nurse, due_day(pump))
    sqls = statements(lambda: services.refill_record(**kwargs))
    assert_count(sqls, REFILL_STATEMENTS + BRACKET)
    assert REFILL_STATEMENTS == 16
    assert (sqls[0], sqls[-1]) == ("BEGIN", "COMMIT")
    assert not [sql for sql in sqls if "SAVEPOINT" in sql]
    assert Alert.objects.unresolved().filter(pump=pump).count() == 0


def test_a_refill_takes_the_same_statements_after_one_month_or_thirty_one(short_and_long, nurse):
    warm(nurse)
    for pump in short_and_long:
        kwargs = refill_kwargs(pump, nurse, due_day(pump))
        sqls = statements(partial(services.refill_record, **kwargs))
        assert_count(sqls, REFILL_STATEMENTS + BRACKET)
        assert Alert.objects.unresolved().filter(pump=pump).count() == 0  # the refill answered its alert
    long = short_and_long[1]
    assert long.refills.count() == LONG + 2 and long.dose_changes.count() == LONG + 1
    assert Alert.objects.filter(pump=long, kind="refill_overdue", status="resolved").count() == LONG + 1


# --------------------------------------------------------------------------
# A dose change, a void and a catalogue edit
# --------------------------------------------------------------------------


def test_a_dose_change_takes_the_same_statements_after_one_month_or_thirty_one(short_and_long, nurse):
    warm(nurse)
    for pump in short_and_long:
        due_before = pump.refill_due_on
        assert due_before is not None
        halve = partial(
            change_dose, pump, nurse, due_day(pump), HALVED_DOSE_MCG, confirmation_reason="Drowsy at 500 mcg/day"
        )
        assert_count(statements(halve), DOSE_CHANGE_STATEMENTS + BRACKET)
        pump.refresh_from_db()
        assert pump.current_daily_dose_mcg == HALVED_DOSE_MCG
        assert pump.refill_due_on == due_before + dt.timedelta(days=1)
        # Both dated with the refill-due date, both moved in the one bulk UPDATE counted.
        alerts = dict(Alert.objects.unresolved().filter(pump=pump).values_list("kind", "due_on"))
        assert alerts == {"refill_overdue": pump.refill_due_on, "refill_not_booked": pump.refill_due_on}


def test_voiding_a_refill_takes_the_same_statements_after_one_month_or_thirty_one(short_and_long, nurse, doctor):
    warm(doctor)
    for pump in short_and_long:
        earlier_fill_on = pump.last_refill_on
        recorded = refill(pump, nurse, due_day(pump))
        mistaken = Refill.objects.get(pk=recorded.pk)  # as the void page loads it
        void = partial(void_record, mistaken, by=doctor, reason="Entered on the wrong pump")
        assert_count(statements(void), VOID_STATEMENTS + BRACKET)
        pump.refresh_from_db()
        assert pump.last_refill_on == earlier_fill_on
        # Voided today (not on the refill day): the earlier fill's alarm date has long passed.
        assert Alert.objects.unresolved().get(pump=pump).kind == "past_alarm_date"


@pytest.mark.parametrize("pumps_of_the_model", [1, 30])
def test_a_catalogue_edit_takes_the_same_statements_for_one_pump_or_thirty_and_moves_none_in_the_request(
    pumps_of_the_model, surgeon, doctor, django_capture_on_commit_callbacks
):
    model: PumpModel = PumpModelFactory(manufacturer="Test Devices", model="Counted")
    pumps: list[Pump] = [PumpFactory(by=surgeon, model=model) for _ in range(pumps_of_the_model)]
    end_of_service = pumps[0].battery_end_of_service_on
    model.refresh_from_db()
    model.nominal_battery_life_months = 60
    warm(doctor)
    edit = partial(services.pump_model_save, model, by=doctor, expected_version=model.version, reason="New datasheet")
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        sqls = statements(edit)
    assert_count(sqls, CATALOGUE_EDIT_STATEMENTS + BRACKET)
    assert len(after_commit) == 1  # the refresh of the pumps' dates, queued for a worker
    assert {pump.battery_end_of_service_on for pump in Pump.objects.filter(model=model)} == {end_of_service}


# --------------------------------------------------------------------------
# What the saves no longer look up, and what they still check
# --------------------------------------------------------------------------


def test_a_relation_in_hand_is_not_looked_up_again_but_its_constraints_are_still_checked(surgeon):
    pump = PumpFactory(by=surgeon)
    second = Pump(
        patient=pump.patient,
        model=pump.model,
        serial_number="NGP-SECOND",
        reservoir_volume_ml=D("40"),
        implanted_on=pump.implanted_on,
    )
    with CaptureQueriesContext(connection) as captured, pytest.raises(ValidationError) as refused:
        validate_record(second)
    assert "already has an implanted pump" in str(refused.value)  # one implanted pump per patient
    lookups = [q["sql"] for q in captured.captured_queries if 'SELECT 1 AS "a" FROM "patients_patient"' in q["sql"]]
    assert lookups == []  # the patient in hand is not looked up to see that it exists


def test_a_relation_given_only_as_an_id_is_still_looked_up_for_its_field_message(surgeon):
    pump = PumpFactory(by=surgeon)
    stray = Refill(
        pump_id=pump.pk + 1000,
        refilled_on=pump.implanted_on,
        volume_added_ml=D("20"),
        drug="lioresal",
        concentration_mcg_per_ml=D("2000"),
        lot_number="L",
    )
    with pytest.raises(ValidationError) as refused:
        validate_record(stray)
    assert "pump" in refused.value.message_dict
