from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.alert_list, name="list"),
    path("worklist/", views.worklist, name="worklist"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("jobs/scan/", views.run_scan_now, name="run_scan"),
    path("jobs/digest/", views.send_digest_now, name="send_digest"),
    path("notifications/failed/", views.failed_notifications, name="notifications_failed"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>/acknowledge/", views.alert_acknowledge, name="acknowledge"),
    path("<int:pk>/snooze/", views.alert_snooze, name="snooze"),
]
