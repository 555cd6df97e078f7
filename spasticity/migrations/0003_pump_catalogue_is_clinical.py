"""The pump catalogue is clinical: the rehab doctor writes it, no longer the administrator.

Battery life and reservoir sizes move every pump's dates (spec section 1). Re-syncing
the groups with ``spasticity.roles`` gives each role exactly its capabilities.
"""

from django.db import migrations

from spasticity.roles import sync_role_groups_in_migration


class Migration(migrations.Migration):
    dependencies = [("spasticity", "0002_roles")]
    operations = [migrations.RunPython(sync_role_groups_in_migration, migrations.RunPython.noop)]
