from django.urls import path

from imports import views

app_name = "imports"

# The run is named by ``?run=`` (default: the user's latest), so each address is a page of its own.
urlpatterns = [
    path("caseload/", views.caseload_upload, name="caseload"),
    path("caseload/result/", views.run_result, name="run"),
    path("caseload/progress/", views.run_progress, name="progress"),
    path("caseload/errors.csv", views.run_errors_csv, name="errors_csv"),
    path("caseload/reconciliation.csv", views.run_reconciliation_csv, name="reconciliation_csv"),
    path("caseload/template.csv", views.template_download, name="template_csv"),
]
