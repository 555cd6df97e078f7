from django.urls import path

from pumps import views

app_name = "pumps"

urlpatterns = [
    path("today/", views.nurse_today, name="today"),
    path("schedule/", views.titration_schedule, name="schedule"),
    path("catalogue/", views.pump_model_list, name="catalogue"),
    path("catalogue/new/", views.PumpModelCreateView.as_view(), name="catalogue_create"),
    path("catalogue/<int:pk>/edit/", views.PumpModelUpdateView.as_view(), name="catalogue_update"),
    path("implant/<int:patient_pk>/", views.ImplantView.as_view(), name="implant"),
    path("<int:pk>/", views.pump_detail, name="detail"),
    path("<int:pk>/edit/", views.PumpUpdateView.as_view(), name="update"),
    path("<int:pk>/follow-up/", views.PumpFollowUpView.as_view(), name="follow_up"),
    path("<int:pump_pk>/replace/", views.ReplaceView.as_view(), name="replace"),
    path("<int:pump_pk>/catheter-revision/", views.CatheterRevisionView.as_view(), name="catheter_revision"),
    path("<int:pump_pk>/explant/", views.ExplantView.as_view(), name="explant"),
    path("<int:pump_pk>/dose/new/", views.DoseChangeCreateView.as_view(), name="dose_change_create"),
    path("<int:pump_pk>/dose/preview/", views.dose_change_preview, name="dose_change_preview"),
    path("<int:pump_pk>/refill/new/", views.RefillCreateView.as_view(), name="refill_create"),
    path("<int:pump_pk>/refill/preview/", views.refill_preview, name="refill_preview"),
    path("<int:pk>/emergency-card.pdf", views.emergency_card_pdf, name="emergency_card_pdf"),
    path("dose-changes/<int:pk>/", views.dose_change_detail, name="dose_change_detail"),
    path("dose-changes/<int:pk>/summary.pdf", views.dose_change_summary_pdf, name="dose_change_summary_pdf"),
    path("refills/<int:pk>/", views.refill_detail, name="refill_detail"),
    path("refills/<int:pk>/summary.pdf", views.refill_summary_pdf, name="refill_summary_pdf"),
    path("refills/<int:pk>/second-check/", views.second_check, {"kind": "refills"}, name="refill_second_check"),
    path(
        "dose-changes/<int:pk>/second-check/",
        views.second_check,
        {"kind": "dose-changes"},
        name="dose_change_second_check",
    ),
]
