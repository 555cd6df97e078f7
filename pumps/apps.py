from django.apps import AppConfig


class PumpsConfig(AppConfig):
    name = "pumps"
