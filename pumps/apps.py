from django.apps import AppConfig


class PumpsConfig(AppConfig):
    name = "pumps"

    def ready(self) -> None:
        from patients.models import Patient
        from patients.pathway import register_fact_source
        from patients.selectors import register_timeline_source
        from pumps.models import DoseChange, Pump, Refill, Surgery
        from pumps.pathway import pump_events, pump_facts
        from pumps.services import (
            after_pump_record_voided,
            after_surgery_voided,
            refuse_voiding_patient_with_implanted_pump,
        )
        from spasticity.audit import register_after_void

        register_fact_source(pump_facts)
        register_timeline_source(pump_events)
        for model in (Pump, DoseChange, Refill):
            register_after_void(model, after_pump_record_voided)
        register_after_void(Surgery, after_surgery_voided)
        register_after_void(Patient, refuse_voiding_patient_with_implanted_pump)
