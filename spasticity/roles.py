"""The five clinic roles and what each may write (spec section 1).

This is the one table of who-may-write-what. The data migration turns it into Django
groups and permissions; views and API endpoints check ``user.has_perm(PERMS.X)``, so
every access rule is greppable by its permission name. Every role reads everything.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    REHAB_DOCTOR = "rehab_doctor"
    PUMP_NURSE = "pump_nurse"
    PHYSICAL_THERAPIST = "physical_therapist"
    NEUROSURGEON = "neurosurgeon"
    ADMINISTRATOR = "administrator"


ROLE_LABELS: dict[Role, str] = {
    Role.REHAB_DOCTOR: "Rehabilitation doctor",
    Role.PUMP_NURSE: "Pump nurse",
    Role.PHYSICAL_THERAPIST: "Physical / occupational therapist",
    Role.NEUROSURGEON: "Neurosurgeon",
    Role.ADMINISTRATOR: "Clinic administrator",
}


@dataclass(frozen=True)
class Capability:
    codename: str
    description: str
    roles: frozenset[Role]


def _cap(codename: str, description: str, *roles: Role) -> Capability:
    return Capability(codename, description, frozenset(roles))


DOCTOR, NURSE, PT, SURGEON, ADMIN = (
    Role.REHAB_DOCTOR,
    Role.PUMP_NURSE,
    Role.PHYSICAL_THERAPIST,
    Role.NEUROSURGEON,
    Role.ADMINISTRATOR,
)

CAPABILITIES: tuple[Capability, ...] = (
    _cap("edit_patient", "Create and edit patient records", DOCTOR, NURSE, ADMIN),
    _cap("edit_patient_clinical", "Edit oral medicines and clinical notes", DOCTOR, NURSE),
    _cap("manage_referral", "Record and decide referrals", DOCTOR, NURSE, ADMIN),
    _cap("plan_trial", "Book intrathecal trials and their bolus dose", DOCTOR, NURSE),
    _cap("record_tone", "Record tone assessments and trial observations", DOCTOR, NURSE, PT),
    _cap("sign_trial", "Sign off a trial outcome", DOCTOR),
    # Voiding takes a whole record (and all it fed) out of the clinic's view: the rehab
    # doctor's alone for a patient or a trial (spec section 1), whoever may edit them.
    _cap("void_patient", "Void a patient record", DOCTOR),
    _cap("void_trial", "Void an intrathecal trial", DOCTOR),
    _cap("manage_goal", "Set and review goals", DOCTOR, NURSE, PT),
    _cap("record_surgery", "Record implant, replacement, revision and explant", DOCTOR, SURGEON),
    _cap("change_dose", "Change a pump's dose program", DOCTOR, NURSE),
    _cap("record_refill", "Record a pump refill", DOCTOR, NURSE),
    _cap("handle_alert", "Acknowledge and snooze alerts", DOCTOR, NURSE, ADMIN),
    # Clinical: battery life and reservoir sizes move every pump's dates (spec section 1).
    _cap("edit_pump_catalogue", "Edit the pump model catalogue", DOCTOR),
    _cap("schedule_visit", "Schedule visits", DOCTOR, NURSE, ADMIN),
    # The import records implants, programs and fills (clinical values): not the administrator's.
    # It stands in for each record's own permission (spasticity.access.permission_granted_by).
    _cap("import_caseload", "Import a caseload spreadsheet", DOCTOR, NURSE),
    # Scheduling is the administrator's work; nurses and doctors book at the end of a visit (spec section 7).
    _cap("book_appointment", "Book, change and cancel appointments", DOCTOR, NURSE, ADMIN),
    # The pump team runs the MRI checklist and its follow-up (issue 13): clinical, not the administrator's.
    _cap("record_mri", "Record MRI scans of pumps and their follow-up", DOCTOR, NURSE),
    _cap("manage_safety_notice", "Record device safety notices and their acknowledgements", DOCTOR, NURSE),
)


class PERMS:
    """Full permission names, for ``has_perm`` and ``permission_required``."""

    EDIT_PATIENT = "spasticity.edit_patient"
    EDIT_PATIENT_CLINICAL = "spasticity.edit_patient_clinical"
    MANAGE_REFERRAL = "spasticity.manage_referral"
    PLAN_TRIAL = "spasticity.plan_trial"
    RECORD_TONE = "spasticity.record_tone"
    SIGN_TRIAL = "spasticity.sign_trial"
    VOID_PATIENT = "spasticity.void_patient"
    VOID_TRIAL = "spasticity.void_trial"
    MANAGE_GOAL = "spasticity.manage_goal"
    RECORD_SURGERY = "spasticity.record_surgery"
    CHANGE_DOSE = "spasticity.change_dose"
    RECORD_REFILL = "spasticity.record_refill"
    HANDLE_ALERT = "spasticity.handle_alert"
    EDIT_PUMP_CATALOGUE = "spasticity.edit_pump_catalogue"
    SCHEDULE_VISIT = "spasticity.schedule_visit"
    IMPORT_CASELOAD = "spasticity.import_caseload"
    BOOK_APPOINTMENT = "spasticity.book_appointment"
    RECORD_MRI = "spasticity.record_mri"
    MANAGE_SAFETY_NOTICE = "spasticity.manage_safety_notice"


def roles_of(user: object) -> set[Role]:
    """The clinic roles a user holds (by group slug)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    names = {g.name for g in user.groups.all()}  # type: ignore[attr-defined]
    return {role for role in Role if role.value in names}


def staff_label(user: Any) -> str:
    """A staff member as colleagues know them: "Dana Doyle (Rehabilitation doctor)".

    The username stands in for a missing name; the roles come from ``user.groups.all()``,
    so a list of people prefetches ``groups`` to label them all in one query.
    """
    name = str(user.get_full_name() or user.username)
    held = roles_of(user)
    roles = [ROLE_LABELS[role] for role in Role if role in held]
    return f"{name} ({', '.join(roles)})" if roles else name


def sync_role_groups_in_migration(apps: Any, schema_editor: Any) -> None:
    """``RunPython`` for each migration that changes the permissions list: re-sync the
    groups with the historical models (one definition for every such migration)."""
    sync_role_groups(
        apps.get_model("auth", "Group"),
        apps.get_model("auth", "Permission"),
        apps.get_model("contenttypes", "ContentType"),
    )


def sync_role_groups(group_model: type, permission_model: type, content_type_model: type) -> None:
    """Create the role groups and give each exactly its capabilities' permissions.

    Used by the data migration (with historical models) and by the test factories,
    because a transactional test's flush empties the groups table.
    """
    content_type, _ = content_type_model.objects.get_or_create(  # type: ignore[attr-defined]
        app_label="spasticity", model="clinicpermission"
    )
    groups = {role: group_model.objects.get_or_create(name=role.value)[0] for role in Role}  # type: ignore[attr-defined]
    for capability in CAPABILITIES:
        permission, _ = permission_model.objects.get_or_create(  # type: ignore[attr-defined]
            content_type=content_type, codename=capability.codename, defaults={"name": capability.description}
        )
        for role, group in groups.items():
            # Exactly the table: a capability taken from a role is taken from its group too.
            if role in capability.roles:
                group.permissions.add(permission)
            else:
                group.permissions.remove(permission)
