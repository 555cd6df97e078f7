"""The pump team records MRI scans and device safety notices (issue 13).

The permissions list gains ``record_mri`` and ``manage_safety_notice``; re-syncing the groups
with ``spasticity.roles`` gives both to the rehab doctor's and the pump nurse's groups.
"""

from django.db import migrations

from spasticity.roles import sync_role_groups_in_migration


class Migration(migrations.Migration):
    dependencies = [("spasticity", "0006_book_appointment")]
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
                    ("book_appointment", "Book, change and cancel appointments"),
                    ("record_mri", "Record MRI scans of pumps and their follow-up"),
                    ("manage_safety_notice", "Record device safety notices and their acknowledgements"),
                ],
            },
        ),
        migrations.RunPython(sync_role_groups_in_migration, migrations.RunPython.noop),
    ]
