from django.urls import path

from interop import views

app_name = "interop"

# Mounted under /patients/<patient_pk>/ (spasticity/urls.py).
urlpatterns = [
    path("transfer-summary.pdf", views.transfer_summary_download, name="transfer_summary_pdf"),
]
