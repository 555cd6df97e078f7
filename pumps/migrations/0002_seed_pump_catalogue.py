"""Seed the pump catalogue with the models the clinic implants (spec: Pumps and surgery)."""

from django.db import migrations

CATALOGUE = [
    {
        "manufacturer": "Medtronic",
        "model": "SynchroMed II",
        "reservoir_sizes_ml": [20, 40],
        "nominal_battery_life_months": 84,
        "days_eri_to_eos": 90,
    },
    {
        "manufacturer": "Flowonix",
        "model": "Prometra II",
        "reservoir_sizes_ml": [20, 40],
        "nominal_battery_life_months": 120,
        "days_eri_to_eos": None,
    },
]


def seed(apps, schema_editor):
    PumpModel = apps.get_model("pumps", "PumpModel")
    for entry in CATALOGUE:
        PumpModel.objects.update_or_create(manufacturer=entry["manufacturer"], model=entry["model"], defaults=entry)


def unseed(apps, schema_editor):
    PumpModel = apps.get_model("pumps", "PumpModel")
    for entry in CATALOGUE:
        PumpModel.objects.filter(manufacturer=entry["manufacturer"], model=entry["model"], pumps__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("pumps", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
