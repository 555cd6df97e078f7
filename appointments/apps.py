from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = "Appointments, calendars and reminders"

    def ready(self) -> None:
        """Reminders ride the alerts outbox (it asks ``reminder_send_check`` before sending one);
        voiding a pump or a patient cancels their bookings."""
        from alerts.models import NotificationKind
        from alerts.notifications import register_send_check
        from appointments.reminders import reminder_send_check

        register_send_check(NotificationKind.REMINDER, reminder_send_check)

        # Bookings nobody can keep are cancelled with the voiding (``appointments.services``).
        from appointments.services import appointments_cancel_for_voided_patient, appointments_cancel_for_voided_pump
        from patients.models import Patient
        from pumps.models import Pump
        from spasticity.audit import register_after_void

        register_after_void(Pump, appointments_cancel_for_voided_pump)
        register_after_void(Patient, appointments_cancel_for_voided_patient)
