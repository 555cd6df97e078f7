"""Rehab doctors and pump nurses import a caseload spreadsheet (spec section 8, issue 11).

The permissions list gains ``import_caseload``; re-syncing the groups with
``spasticity.roles`` gives it to the rehab doctor's and the pump nurse's groups.
"""

from django.db import migrations

from spasticity.roles import sync_role_groups_in_migration


class Migration(migrations.Migration):
    dependencies = [("spasticity", "0004_voiding_patients_and_trials_is_the_rehab_doctors")]
    operations = [
        migrations.AlterModelOptions(
            name="clinicpermission",
            options={
                "default_permissions": (),
                "managed": False,
                "permissions": [
                    ("edit_patient", "Create and edit patient records"),
                    ("edit_patient_clinical", "Edit oral medicines and clinical notes"),
                    ("manage_referral", "Record and decide referrals"),
                    ("plan_trial", "Book intrathecal trials and their bolus dose"),
                    ("record_tone", "Record tone assessments and trial observations"),
                    ("sign_trial", "Sign off a trial outcome"),
                    ("void_patient", "Void a patient record"),
                    ("void_trial", "Void an intrathecal trial"),
                    ("manage_goal", "Set and review goals"),
                    ("record_surgery", "Record implant, replacement, revision and explant"),
                    ("change_dose", "Change a pump's dose program"),
                    ("record_refill", "Record a pump refill"),
                    ("handle_alert", "Acknowledge and snooze alerts"),
                    ("edit_pump_catalogue", "Edit the pump model catalogue"),
                    ("schedule_visit", "Schedule visits"),
                    ("import_caseload", "Import a caseload spreadsheet"),
                ],
            },
        ),
        migrations.RunPython(sync_role_groups_in_migration, migrations.RunPython.noop),
    ]
