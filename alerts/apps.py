from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts, notifications and reports"

    def ready(self) -> None:
        """Alerts are never voided (the scan owns them): refuse it wherever a void comes from."""
        from alerts.models import Alert
        from alerts.services import alert_refuse_void
        from spasticity.audit import register_after_void

        register_after_void(Alert, alert_refuse_void)
