from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = "Appointments, calendars and reminders"

    def ready(self) -> None:
        """Reminders ride the alerts outbox: it asks ``reminder_send_check`` before sending one."""
        from alerts.models import NotificationKind
        from alerts.notifications import register_send_check
        from appointments.reminders import reminder_send_check

        register_send_check(NotificationKind.REMINDER, reminder_send_check)
