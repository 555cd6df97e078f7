from django.apps import AppConfig


class InteropConfig(AppConfig):
    """FHIR R4 export of a patient's pump record, and the transfer-of-care summary."""

    name = "interop"
