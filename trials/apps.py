from django.apps import AppConfig


class TrialsConfig(AppConfig):
    name = "trials"

    def ready(self) -> None:
        """Contribute pathway facts and timeline events; guard voiding of signed trials' parts."""
        from patients.pathway import register_fact_source
        from patients.selectors import register_timeline_source
        from spasticity.audit import register_after_void
        from trials import selectors, services
        from trials.models import PennSpasmScore, ToneAssessment, Trial

        register_fact_source(selectors.trial_facts)
        register_timeline_source(selectors.trial_events)
        register_after_void(Trial, services.after_trial_voided)
        register_after_void(ToneAssessment, services.refuse_voiding_part_of_signed_trial)
        register_after_void(PennSpasmScore, services.refuse_voiding_part_of_signed_trial)
