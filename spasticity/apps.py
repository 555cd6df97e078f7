from django.apps import AppConfig


class SpasticityConfig(AppConfig):
    name = "spasticity"
    verbose_name = "ITB Clinic"
