"""``/reports/``: the page, the CSV and the print view of each report share one selector."""

from django.urls import path

from alerts import views

app_name = "reports"

urlpatterns = [
    path("", views.reports_index, name="index"),
    path("overdue-refills/", views.overdue_refills, name="overdue_refills"),
    path("overdue-refills/csv/", views.overdue_refills, {"variant": "csv"}, name="overdue_refills_csv"),
    path("overdue-refills/print/", views.overdue_refills, {"variant": "print"}, name="overdue_refills_print"),
    path("battery-end-of-life/", views.battery_end_of_life, name="battery"),
    path("battery-end-of-life/csv/", views.battery_end_of_life, {"variant": "csv"}, name="battery_csv"),
    path("battery-end-of-life/print/", views.battery_end_of_life, {"variant": "print"}, name="battery_print"),
    path("titration-schedule/", views.titration_schedule, name="titration_schedule"),
]
