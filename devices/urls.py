from django.urls import path

from devices import views

app_name = "devices"

urlpatterns = [
    path("mri/new/<int:pump_pk>/", views.MriCreateView.as_view(), name="mri_create"),
    path("mri/<int:pk>/", views.mri_detail, name="mri_detail"),
    path("mri/pump/<int:pump_pk>/", views.pump_mri_scans, name="pump_mri_scans"),
    path("mri/<int:pk>/follow-up/", views.MriFollowUpView.as_view(), name="mri_follow_up"),
    path("safety-notices/", views.notice_list, name="notice_list"),
    path("safety-notices/new/", views.NoticeCreateView.as_view(), name="notice_create"),
    path("safety-notices/<int:pk>/", views.notice_detail, name="notice_detail"),
    path("safety-notices/<int:pk>/edit/", views.NoticeUpdateView.as_view(), name="notice_update"),
    path("safety-notices/<int:pk>/acknowledge/", views.notice_acknowledge, name="notice_acknowledge"),
]
