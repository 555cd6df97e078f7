"""Create the five role groups and give each its permissions (spec section 1)."""

from django.db import migrations


def create_roles(apps, schema_editor):  # type: ignore[no-untyped-def]
    from spasticity.roles import CAPABILITIES, Role

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(app_label="spasticity", model="clinicpermission")
    groups = {role: Group.objects.get_or_create(name=role.value)[0] for role in Role}
    for capability in CAPABILITIES:
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=capability.codename,
            defaults={"name": capability.description},
        )
        for role in capability.roles:
            groups[role].permissions.add(permission)


def remove_roles(apps, schema_editor):  # type: ignore[no-untyped-def]
    from spasticity.roles import Role

    apps.get_model("auth", "Group").objects.filter(name__in=[r.value for r in Role]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("spasticity", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
