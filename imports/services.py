"""The caseload import (spec section 8): a clinic's pump spreadsheet, through the ordinary services.

Two passes share the first step:

1. Each row's cells become typed values, and every bad cell is reported (row, column,
   message), not just the first. Pump models, nurses and the MRNs and serial numbers
   already recorded are looked up once for the whole file, not once per row.

The dry run (``caseload_check``) then builds each row's records unsaved and checks them
with the models' own validation (the rules every save runs), and projects the pump with
``pumps.projection.pump_state``, the function the services store the alarm date from.
It writes nothing and asks the database nothing per row, so 5,000 rows take seconds.

A clean commit (``caseload_record``) records each row through the services that record
it by hand (``patient_save``, ``pump_implant``, ``dose_change_record``, ``refill_record``),
in one transaction, with a savepoint per row so that a row the services refuse is
reported on the sheet's columns and the next row is still checked. The import's
permission stands in for each record's own (``permission_granted_by``); every history
row's reason starts with "Imported from FILE" (``change_reasons_from``). The computed
dates are then the pump's stored projection. A commit runs the dry run's checks first,
and any error from either pass rolls everything back: nothing is saved. The services
may refuse a row the checks passed (a rule that needs the database); the commit then
answers with that error. ``tests/imports/test_caseload_sample.py`` runs both passes over
the sample sheet's bad rows, its reconciled rows and a dozen good ones, and pins that they
agree, error for error and date for date.

How a row's dates become records. The projection of the last fill needs the dose in force
from ``last_refill_on`` on, and a sheet gives the current dose and ``dose_since``:

* the implant (surgery, pump) on ``implanted_on``;
* the program on ``dose_since``, or on the implant day when ``dose_since`` is earlier (a
  dose carried over from an earlier pump): recorded with the implant when it falls on the
  implant day, else by ``dose_change_record`` afterwards;
* the fill on ``last_refill_on``: with the implant when it is the implant day (the first
  fill in theatre), else by ``refill_record`` afterwards, as the pump's first fill here;
* ``dose_since`` after ``last_refill_on`` is refused: the dose between the fill and the
  change is not in the sheet, and projecting as if nothing was used until the change
  would put the alarm date too late. Import the dose in force at the last fill, then
  record the later change as a dose change.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import TextChoices

from imports.parsing import COLUMNS, Cell, SheetError, SheetRow, read_sheet
from patients.models import Diagnosis, Patient, Sex
from patients.services import patient_save
from pumps.dosing import DosingSettings
from pumps.models import DoseChange, Drug, Pump, PumpModel, Refill
from pumps.projection import PumpState, pump_state
from pumps.services import (
    FillDetails,
    ProgramDetails,
    SurgeryDetails,
    default_alarm_volume_ml,
    dose_change_record,
    labelled_age_errors,
    pump_implant,
    refill_record,
)
from spasticity.access import permission_granted_by, require_permission, staff_with_role
from spasticity.audit import change_reasons_from
from spasticity.clinic import dosing_settings
from spasticity.integrity import integrity_validation_error
from spasticity.params import whole_number
from spasticity.roles import PERMS, Role

# What the services call a field, as the sheet's column that holds the value.
SERVICE_FIELD_COLUMNS: dict[str, str] = {
    "model": "pump_model",
    "patient": "mrn",
    "performed_on": "implanted_on",
    "surgeon": "implanted_on",
    "changed_on": "dose_since",
    "mode": "daily_dose_mcg",
    "flex_steps": "daily_dose_mcg",
    "confirmation_reason": "daily_dose_mcg",
    "refilled_on": "last_refill_on",
    "aspirated_volume_ml": "volume_added_ml",
    "lot_number": "last_refill_on",
    "reservoir_port_access_confirmed": "last_refill_on",
    # A concentration other than 50/500/1000/2000 needs a dilution note, which the sheet cannot carry.
    "dilution_note": "concentration_mcg_per_ml",
}

# The sheet has no lot numbers; the refill record requires one.
IMPORTED_LOT_NUMBER = "not recorded (imported)"

CREATED_KINDS = ("patients", "pumps", "dose_changes", "refills")
IMPORT_REFUSED = "Only a rehabilitation doctor or a pump nurse imports a caseload."
ProgressCallback = Callable[[int, int], None]


# --------------------------------------------------------------------------
# The result (spec section 8's response)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int | None
    field: str | None
    message: str


@dataclass(frozen=True)
class Reconciliation:
    """A row whose stated alarm (or refill-due) date is not the dosing module's.

    ``difference_days`` = stated − computed: positive means the sheet would have the
    clinic refill too late. None when the sheet states no such date.
    """

    row: int
    mrn: str
    serial_number: str
    stated_alarm_date: datetime.date | None
    computed_alarm_date: datetime.date | None
    difference_days: int | None
    stated_refill_due_on: datetime.date | None
    computed_refill_due_on: datetime.date | None
    refill_due_difference_days: int | None


@dataclass
class ImportResult:
    dry_run: bool
    rows: int
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CREATED_KINDS, 0))
    errors: list[RowError] = field(default_factory=list)
    reconciliation: list[Reconciliation] = field(default_factory=list)
    # A clean sheet whose commit was not started: more rows than the caller commits in one go.
    too_large_to_commit: bool = False

    @property
    def refused(self) -> bool:
        """A commit that saved nothing because of errors (the API answers 400, or 413 when too large)."""
        return not self.dry_run and bool(self.errors)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as YYYY-MM-DD."""
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": dict(self.created),
            "errors": [asdict(error) for error in self.errors],
            "reconciliation": [_json_dates(asdict(line)) for line in self.reconciliation],
        }


def _json_dates(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, datetime.date) else value for name, value in values.items()}


# --------------------------------------------------------------------------
# Entry point shared by the page's job, the API and the command
# --------------------------------------------------------------------------


def require_import_permission(by: Any) -> None:
    """The import carries clinical values: rehab doctors and pump nurses only (administrators too are refused)."""
    require_permission(by, PERMS.IMPORT_CASELOAD, IMPORT_REFUSED)


def caseload_import_file(
    file_name: str,
    content: bytes,
    *,
    by: Any,
    commit: bool,
    today: datetime.date,
    progress: ProgressCallback | None = None,
    max_commit_rows: int | None = None,
) -> ImportResult:
    """Read the file and import it; a file that cannot be read is an answer with errors, not an exception."""
    require_import_permission(by)
    try:
        rows = read_sheet(file_name, content)
    except SheetError as error:
        problems = [RowError(problem.row, problem.field, problem.message) for problem in error.problems]
        return ImportResult(dry_run=not commit, rows=0, errors=problems)
    return caseload_import(
        file_name, rows, by=by, commit=commit, today=today, progress=progress, max_commit_rows=max_commit_rows
    )


def caseload_import(
    file_name: str,
    rows: Sequence[SheetRow],
    *,
    by: Any,
    commit: bool,
    today: datetime.date,
    progress: ProgressCallback | None = None,
    max_commit_rows: int | None = None,
) -> ImportResult:
    """The dry run; on a commit with no error, the records too (see the module docstring).

    ``progress(done, total)`` is called as rows are checked (a dry run) or recorded (a commit).
    ``max_commit_rows``: a caller that must answer quickly (a web request) commits no more
    rows than this. A larger clean sheet is checked, then refused with nothing saved
    (``too_large_to_commit``); a sheet with errors is refused for its errors first.
    """
    require_import_permission(by)
    checked = caseload_check(rows, progress=None if commit else progress)
    if not commit:
        return checked
    nothing_created = dict.fromkeys(CREATED_KINDS, 0)
    if checked.errors:
        # Refused before any record is written: the answer is the dry run's, with nothing created.
        return replace(checked, dry_run=False, created=nothing_created)
    if max_commit_rows is not None and len(rows) > max_commit_rows:
        too_large = RowError(None, "file", _too_large_message(len(rows), max_commit_rows))
        return replace(checked, dry_run=False, created=nothing_created, errors=[too_large], too_large_to_commit=True)
    return caseload_record(file_name, rows, by=by, today=today, keep=True, progress=progress)


def _too_large_message(rows: int, max_commit_rows: int) -> str:
    return (
        f"The sheet has no errors, but its {rows:,} rows are more than the {max_commit_rows:,} committed here at once, "
        "so nothing was saved. Commit it from the import page, which runs it as a job and shows its progress, "
        "or send it in parts."
    )


def caseload_check(rows: Sequence[SheetRow], *, progress: ProgressCallback | None = None) -> ImportResult:
    """Check every row and compute its dates with nothing saved (the dry run)."""
    result = ImportResult(dry_run=True, rows=len(rows))
    lookups = _Lookups.for_rows(rows)
    settings = dosing_settings()
    for done, sheet_row in enumerate(rows, start=1):
        row = _typed_row(sheet_row, lookups, result.errors)
        if row is not None:
            state = _checked_state(row, settings=settings, errors=result.errors)
            if state is not None:
                _count_created(result)
                if line := _reconciliation(row, alarm_date=state.alarm_date, refill_due_on=state.refill_due_on):
                    result.reconciliation.append(line)
        if progress is not None:
            progress(done, len(rows))
    result.errors.sort(key=_error_order)
    return result


def caseload_record(
    file_name: str,
    rows: Sequence[SheetRow],
    *,
    by: Any,
    today: datetime.date,
    keep: bool,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Record every row through the services in one transaction; keep it only when ``keep`` and no row failed.

    With ``keep=False`` it is a rehearsal: the services run, and everything is rolled back.
    """
    require_import_permission(by)
    result = ImportResult(dry_run=not keep, rows=len(rows))
    lookups = _Lookups.for_rows(rows)
    reason = f"Imported from {file_name}"
    with transaction.atomic(), permission_granted_by(PERMS.IMPORT_CASELOAD), change_reasons_from(reason):
        for done, sheet_row in enumerate(rows, start=1):
            row = _typed_row(sheet_row, lookups, result.errors)
            pump = _record_row_or_report(row, by=by, reason=reason, today=today, errors=result.errors) if row else None
            if row is not None and pump is not None:
                _count_created(result)
                if line := _reconciliation(row, alarm_date=pump.alarm_date, refill_due_on=pump.refill_due_on):
                    result.reconciliation.append(line)
            if progress is not None:
                progress(done, len(rows))
        if not keep or result.errors:
            transaction.set_rollback(True)
    if result.refused:
        result.created = dict.fromkeys(CREATED_KINDS, 0)
    result.errors.sort(key=_error_order)
    return result


def _count_created(result: ImportResult) -> None:
    """Each good row makes one patient, one pump, one program and one fill."""
    for kind in CREATED_KINDS:
        result.created[kind] += 1


def _error_order(error: RowError) -> tuple[int, int]:
    column = COLUMNS.index(error.field) if error.field in COLUMNS else len(COLUMNS)
    return (error.row or 0, column)


# --------------------------------------------------------------------------
# 1. Cells to typed values
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseloadRow:
    """One sheet row's values, typed and looked up; every cell was readable."""

    number: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: datetime.date
    sex: str
    diagnosis: str
    gmfcs_level: int | None
    weight_kg: Decimal | None
    height_cm: Decimal | None
    assigned_nurse: User | None
    pump_model: PumpModel
    serial_number: str
    reservoir_volume_ml: Decimal
    low_reservoir_alarm_ml: Decimal | None
    implanted_on: datetime.date
    catheter_tip_level: str
    eri_on: datetime.date | None
    daily_dose_mcg: Decimal
    dose_since: datetime.date
    last_refill_on: datetime.date
    volume_added_ml: Decimal
    drug: str
    concentration_mcg_per_ml: Decimal
    stated_alarm_date: datetime.date | None
    stated_refill_due_on: datetime.date | None


@dataclass
class _Lookups:
    """Everything the rows name that is already recorded, fetched once for the whole file."""

    pump_models: dict[str, list[PumpModel]]
    catalogue_names: str
    staff: dict[str, User]
    nurse_ids: set[int]
    recorded_mrns: set[str]
    recorded_serials: set[str]
    first_row_of_mrn: dict[str, int] = field(default_factory=dict)
    first_row_of_serial: dict[str, int] = field(default_factory=dict)

    @classmethod
    def for_rows(cls, rows: Sequence[SheetRow]) -> _Lookups:
        def values(column: str) -> set[str]:
            return {str(row.cells.get(column, "")).strip() for row in rows} - {""}

        models: dict[str, list[PumpModel]] = {}
        catalogue = list(PumpModel.objects.active().order_by("manufacturer", "model"))
        for pump_model in catalogue:
            for name in {pump_model.model.casefold(), str(pump_model).casefold()}:
                models.setdefault(name, []).append(pump_model)
        usernames = values("assigned_nurse")
        return cls(
            pump_models=models,
            catalogue_names=", ".join(pump_model.model for pump_model in catalogue),
            staff={user.username: user for user in User.objects.filter(username__in=usernames)},
            nurse_ids=set(staff_with_role(Role.PUMP_NURSE).filter(username__in=usernames).values_list("pk", flat=True)),
            recorded_mrns=set(Patient.objects.filter(mrn__in=values("mrn")).values_list("mrn", flat=True)),
            recorded_serials=set(
                Pump.objects.active()
                .filter(serial_number__in=values("serial_number"))
                .values_list("serial_number", flat=True)
            ),
        )


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ROMAN_GMFCS = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
EMPTY_REQUIRED = "This column is required: the cell is empty."


class _Cells:
    """Reads one row's cells into typed values, noting a message for each bad one."""

    def __init__(self, row: SheetRow, errors: list[RowError]) -> None:
        self.row = row
        self.errors = errors
        self.failed = False

    def fail(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.row.number, column, message))
        self.failed = True

    def raw(self, column: str) -> Cell:
        return self.row.cells.get(column, "")

    def text(self, column: str, *, required: bool = True) -> str:
        value = self.raw(column)
        text = value.isoformat() if isinstance(value, datetime.date) else value
        if required and not text:
            self.fail(column, EMPTY_REQUIRED)
        return text

    def date(self, column: str, *, required: bool = True) -> datetime.date | None:
        value = self.raw(column)
        if isinstance(value, datetime.date):
            return value
        if not value:
            if required:
                self.fail(column, EMPTY_REQUIRED)
            return None
        try:
            if not _ISO_DATE.fullmatch(value):
                raise ValueError(value)
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.fail(column, f"{value!r} is not a date: write it as YYYY-MM-DD (e.g. 2024-01-15).")
            return None

    def decimal(self, column: str, *, required: bool = True) -> Decimal | None:
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            self.fail(column, f"{value!r} is not a number (write e.g. 40 or 12.5).")
            return None
        return number

    def choice(self, column: str, choices: type[TextChoices]) -> str:
        value = self.text(column)
        if not value:
            return ""
        wanted = value.casefold().replace(" ", "_")
        for code, label in choices.choices:
            if wanted in (str(code).casefold(), str(label).casefold().replace(" ", "_")):
                return str(code)
        codes = ", ".join(str(code) for code in choices.values)
        self.fail(column, f"Unknown {column.replace('_', ' ')} {value!r}: use one of {codes}.")
        return ""

    def gmfcs(self, column: str) -> int | None:
        value = self.text(column, required=False)
        if not value:
            return None
        level = _ROMAN_GMFCS.get(value.upper())
        if level is None:
            level = whole_number(value)
        if level is None or not 1 <= level <= 5:
            self.fail(column, f"{value!r} is not a GMFCS level: use 1 to 5 (or I to V).")
            return None
        return level


def _typed_row(sheet_row: SheetRow, lookups: _Lookups, errors: list[RowError]) -> CaseloadRow | None:
    """The row's values, or None (with every bad cell reported) when any cell is bad."""
    cells = _Cells(sheet_row, errors)
    values: dict[str, Any] = {
        "number": sheet_row.number,
        "mrn": _unique_in_file(cells, "mrn", lookups.recorded_mrns, lookups.first_row_of_mrn, "A patient with MRN"),
        "given_name": cells.text("given_name"),
        "family_name": cells.text("family_name"),
        "birth_date": cells.date("birth_date"),
        "sex": cells.choice("sex", Sex),
        "diagnosis": cells.choice("diagnosis", Diagnosis),
        "gmfcs_level": cells.gmfcs("gmfcs_level"),
        "weight_kg": cells.decimal("weight_kg", required=False),
        "height_cm": cells.decimal("height_cm", required=False),
        "assigned_nurse": _nurse(cells, lookups),
        "pump_model": _pump_model(cells, lookups),
        "serial_number": _unique_in_file(
            cells, "serial_number", lookups.recorded_serials, lookups.first_row_of_serial, "A pump with serial number"
        ),
        "reservoir_volume_ml": cells.decimal("reservoir_volume_ml"),
        "low_reservoir_alarm_ml": cells.decimal("low_reservoir_alarm_ml", required=False),
        "implanted_on": cells.date("implanted_on"),
        "catheter_tip_level": cells.text("catheter_tip_level", required=False),
        "eri_on": cells.date("eri_on", required=False),
        "daily_dose_mcg": cells.decimal("daily_dose_mcg"),
        "dose_since": cells.date("dose_since"),
        "last_refill_on": cells.date("last_refill_on"),
        "volume_added_ml": cells.decimal("volume_added_ml"),
        "drug": cells.choice("drug", Drug),
        "concentration_mcg_per_ml": cells.decimal("concentration_mcg_per_ml"),
        "stated_alarm_date": cells.date("stated_alarm_date", required=False),
        "stated_refill_due_on": cells.date("stated_refill_due_on", required=False),
    }
    _date_order(cells, values)
    return None if cells.failed else CaseloadRow(**values)


def _unique_in_file(cells: _Cells, column: str, recorded: set[str], first_rows: dict[str, int], what: str) -> str:
    """An MRN or serial number that is neither recorded already nor on an earlier row.

    A re-imported file is refused row by row: the import never updates a record.
    """
    value = cells.text(column)
    if not value:
        return ""
    if value in recorded:
        cells.fail(column, f"{what} {value} is already recorded: the import never updates a record.")
    elif value in first_rows:
        cells.fail(column, f"{what} {value} is also on row {first_rows[value]}.")
    else:
        first_rows[value] = cells.row.number
    return value


def _nurse(cells: _Cells, lookups: _Lookups) -> User | None:
    username = cells.text("assigned_nurse", required=False)
    if not username:
        return None
    user = lookups.staff.get(username)
    if user is None:
        cells.fail("assigned_nurse", f"No staff account has the username {username!r}.")
    elif user.pk not in lookups.nurse_ids:
        cells.fail("assigned_nurse", f"{username} is not an active pump nurse.")
    return user


def _pump_model(cells: _Cells, lookups: _Lookups) -> PumpModel | None:
    name = cells.text("pump_model")
    if not name:
        return None
    matches = lookups.pump_models.get(name.casefold(), [])
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(str(match) for match in matches)
        cells.fail("pump_model", f"{name!r} names more than one catalogue model ({names}): add the manufacturer.")
    else:
        cells.fail("pump_model", f"Unknown pump model {name!r}: the catalogue has {lookups.catalogue_names}.")
    return None


def _date_order(cells: _Cells, values: dict[str, Any]) -> None:
    """The two orderings the mapping to records needs (see the module docstring)."""
    implanted_on, dose_since, last_refill_on = values["implanted_on"], values["dose_since"], values["last_refill_on"]
    if implanted_on and last_refill_on and last_refill_on < implanted_on:
        cells.fail("last_refill_on", f"The last refill cannot be before the implant on {implanted_on:%Y-%m-%d}.")
    if dose_since and last_refill_on and dose_since > last_refill_on:
        cells.fail(
            "dose_since",
            f"The dose changed after the last refill ({last_refill_on:%Y-%m-%d}), and the sheet does not say the "
            "dose before it, so the alarm date cannot be computed. Import the dose in force at the last refill, "
            "then record the later change as a dose change.",
        )


# --------------------------------------------------------------------------
# 2. The dry run: the records unsaved, checked by the models, projected
# --------------------------------------------------------------------------

# Looked up in bulk with the rows (they exist); a foreign key's own check is one query a row.
_LOOKED_UP = {Patient: ["assigned_nurse", "assigned_doctor"], Pump: ["patient", "model"]}


def _checked_state(row: CaseloadRow, *, settings: DosingSettings, errors: list[RowError]) -> PumpState | None:
    """The row's records built unsaved and validated as a save would; their projection, or None on errors.

    Uniqueness is not asked of the database row by row: the MRNs and serial numbers were
    looked up in bulk with the file. The services' ordering rules (nothing dated before the
    latest record) cannot fail here: the program is dated on or before the fill, on a new pump.
    """
    patient = _patient_of(row)
    pump = _pump_of(row, patient)
    program = _program(row, "Imported")
    dose_change = DoseChange(pump=pump, changed_on=_program_on(row), **_program_fields(program))
    refill = Refill(pump=pump, refilled_on=row.last_refill_on, is_first_fill=True, **_fill_fields(row))
    found: dict[str, list[str]] = {}
    for record in (patient, pump, dose_change, refill):
        try:
            record.full_clean(
                exclude=_LOOKED_UP.get(type(record), ["pump"]), validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                found.setdefault(name, []).extend(message for message in messages if message not in found.get(name, []))
    for name, message in pump.reservoir_size_errors().items():
        found.setdefault(name, []).append(message)
    if found:
        errors.extend(_service_errors(row.number, ValidationError(found)))
        return None
    return pump_state(pump, [refill], [dose_change], settings)


# --------------------------------------------------------------------------
# 3. The commit: records, through the services
# --------------------------------------------------------------------------


def _record_row_or_report(
    row: CaseloadRow, *, by: Any, reason: str, today: datetime.date, errors: list[RowError]
) -> Pump | None:
    """Record the row in a savepoint; on refusal, report it on the sheet's columns and undo the row."""
    try:
        with transaction.atomic():
            return _record_row(row, by=by, reason=reason, today=today)
    except IntegrityError as error:  # a constraint the validators could not see (a race)
        errors.extend(_service_errors(row.number, integrity_validation_error(error)))
    except ValidationError as error:
        errors.extend(_service_errors(row.number, error))
    return None


def _record_row(row: CaseloadRow, *, by: Any, reason: str, today: datetime.date) -> Pump:
    """The patient, then the implant, then the program and fill not dated on the implant day."""
    patient = _patient_of(row)
    patient_save(patient, by=by, reason=reason)
    pump = _pump_of(row, patient)
    program = _program(row, reason)
    fill = FillDetails(**_fill_fields(row))
    program_on = _program_on(row)
    pump_implant(
        pump,
        by=by,
        surgery=SurgeryDetails(performed_on=row.implanted_on, notes=f"{reason}: the implant the caseload records."),
        first_program=program if program_on == row.implanted_on else None,
        first_fill=fill if row.last_refill_on == row.implanted_on else None,
        today=today,
    )
    if program_on > row.implanted_on:
        # Copied from the clinic's records, not programmed now: no programmer check, no second check.
        dose_change_record(
            pump=pump, by=by, changed_on=program_on, today=today, at_the_pump=False, **_program_fields(program)
        )
    if row.last_refill_on > row.implanted_on:
        # The port-access safeguard is ticked at the pump; this fill was given by the clinic
        # under its own procedure before the import, which cannot attest it otherwise.
        # Likewise the running check and the observation (pumps.services.refill_record: at_the_pump).
        refill_record(
            pump=pump,
            by=by,
            refilled_on=row.last_refill_on,
            today=today,
            at_the_pump=False,
            **_fill_fields(row, port_confirmed=True),
        )
    return pump


def _patient_of(row: CaseloadRow) -> Patient:
    return Patient(
        mrn=row.mrn,
        given_name=row.given_name,
        family_name=row.family_name,
        birth_date=row.birth_date,
        sex=row.sex,
        diagnosis=row.diagnosis,
        gmfcs_level=row.gmfcs_level,
        weight_kg=row.weight_kg,
        height_cm=row.height_cm,
        assigned_nurse=row.assigned_nurse,
    )


IMPORTED_OFF_LABEL_REASON = "Implanted outside its labelling before the patient joined the clinic (caseload import)"


def _pump_of(row: CaseloadRow, patient: Patient) -> Pump:
    pump = Pump(
        patient=patient,
        model=row.pump_model,
        serial_number=row.serial_number,
        reservoir_volume_ml=row.reservoir_volume_ml,
        implanted_on=row.implanted_on,
        catheter_tip_level=row.catheter_tip_level,
        eri_on=row.eri_on,
    )
    # Not in the sheet: the model's catalogue default (Prometra II 3.0 mL), as for any implant.
    pump.low_reservoir_alarm_ml = (
        row.low_reservoir_alarm_ml
        if row.low_reservoir_alarm_ml is not None
        else default_alarm_volume_ml(row.pump_model)
    )
    if labelled_age_errors(pump):
        # Implanted before the patient joined the clinic: the off-label decision was taken then.
        pump.off_label_reason = IMPORTED_OFF_LABEL_REASON
    return pump


def _program_on(row: CaseloadRow) -> datetime.date:
    """A dose in force since before the implant is this pump's program from its implant day."""
    return max(row.dose_since, row.implanted_on)


def _fill_fields(row: CaseloadRow, *, port_confirmed: bool = False) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "volume_added_ml": row.volume_added_ml,
        "drug": row.drug,
        "concentration_mcg_per_ml": row.concentration_mcg_per_ml,
        "lot_number": IMPORTED_LOT_NUMBER,
    }
    if port_confirmed:
        fields["reservoir_port_access_confirmed"] = True
    return fields


def _program(row: CaseloadRow, reason: str) -> ProgramDetails:
    since = f"since {row.dose_since:%Y-%m-%d}"
    if row.dose_since < row.implanted_on:
        since += f" (before this pump's implant on {row.implanted_on:%Y-%m-%d})"
    return ProgramDetails(
        daily_dose_mcg=row.daily_dose_mcg,
        reason=f"{reason}: the dose in force {since}.",
        # The dose is the one the patient is on, not a change made now; a high dose or a large
        # step from the suggested starting dose was confirmed when it was prescribed.
        confirmation_reason=f"{reason}: the patient's current dose, as the clinic's caseload records it.",
    )


def _program_fields(program: ProgramDetails) -> dict[str, Any]:
    return {
        "mode": program.mode,
        "daily_dose_mcg": program.daily_dose_mcg,
        "reason": program.reason,
        "confirmation_reason": program.confirmation_reason,
    }


def _service_errors(row_number: int, error: ValidationError) -> list[RowError]:
    """A service's field messages, on the sheet's columns (None: the row as a whole)."""
    if not hasattr(error, "error_dict"):
        return [RowError(row_number, None, message) for message in error.messages]
    found: list[RowError] = []
    for name, messages in error.message_dict.items():
        column = None if name == NON_FIELD_ERRORS else SERVICE_FIELD_COLUMNS.get(name, name)
        for message in messages:
            entry = RowError(row_number, column, message)
            if entry not in found:
                found.append(entry)
    return found


# --------------------------------------------------------------------------
# 4. Reconciliation
# --------------------------------------------------------------------------


def _days_between(stated: datetime.date | None, computed: datetime.date | None) -> int | None:
    return (stated - computed).days if stated is not None and computed is not None else None


def _reconciliation(
    row: CaseloadRow, *, alarm_date: datetime.date | None, refill_due_on: datetime.date | None
) -> Reconciliation | None:
    """The row's stated dates against the computed ones; None when every stated date agrees."""
    alarm_days = _days_between(row.stated_alarm_date, alarm_date)
    due_days = _days_between(row.stated_refill_due_on, refill_due_on)
    if not alarm_days and not due_days:
        return None
    return Reconciliation(
        row=row.number,
        mrn=row.mrn,
        serial_number=row.serial_number,
        stated_alarm_date=row.stated_alarm_date,
        computed_alarm_date=alarm_date,
        difference_days=alarm_days,
        stated_refill_due_on=row.stated_refill_due_on,
        computed_refill_due_on=refill_due_on,
        refill_due_difference_days=due_days,
    )


def reconciliation_csv_rows(result: dict[str, Any]) -> Iterable[list[Any]]:
    """The reconciliation table as CSV rows (header first), from a result's ``as_dict``."""
    columns = list(Reconciliation.__dataclass_fields__)
    yield columns
    for line in result.get("reconciliation", []):
        yield [line.get(name) for name in columns]


def errors_csv_rows(result: dict[str, Any]) -> Iterable[list[Any]]:
    """The errors table as CSV rows (header first), from a result's ``as_dict``."""
    columns = list(RowError.__dataclass_fields__)
    yield columns
    for error in result.get("errors", []):
        yield [error.get(name) for name in columns]
