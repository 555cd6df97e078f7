from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"

    def ready(self) -> None:
        from patients import search
        from patients.models import Referral
        from patients.services import after_referral_voided
        from spasticity.audit import register_after_void

        register_after_void(Referral, after_referral_voided)
        # The demo's SQLite gets the unaccent() the patient search uses on PostgreSQL.
        search.connect_signals()
