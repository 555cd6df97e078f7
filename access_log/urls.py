"""``/patients/<id>/access-log/``: who has looked at a patient's record (administrators)."""

from django.urls import path

from access_log import views

app_name = "access_log"

urlpatterns = [
    path("", views.patient_access_log, name="patient"),
    path("csv/", views.patient_access_log_csv, name="patient_csv"),
]
