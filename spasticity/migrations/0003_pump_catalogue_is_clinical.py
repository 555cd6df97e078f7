"""The pump catalogue is clinical: the rehab doctor writes it, no longer the administrator.

Battery life and reservoir sizes move every pump's dates (spec section 1). Re-syncing
the groups with ``spasticity.roles`` gives each role exactly its capabilities.
"""

from django.db import migrations


def sync_roles(apps, schema_editor):  # type: ignore[no-untyped-def]
    from spasticity.roles import sync_role_groups

    sync_role_groups(
        apps.get_model("auth", "Group"),
        apps.get_model("auth", "Permission"),
        apps.get_model("contenttypes", "ContentType"),
    )


class Migration(migrations.Migration):
    dependencies = [("spasticity", "0002_roles")]
    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
