from django.urls import path

from patients import views

app_name = "patients"

urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.PatientCreateView.as_view(), name="create"),
    path("<int:pk>/", views.patient_detail, name="detail"),
    path("<int:pk>/edit/", views.PatientUpdateView.as_view(), name="update"),
    path("<int:patient_pk>/caregivers/new/", views.CaregiverCreateView.as_view(), name="caregiver_create"),
    path("<int:patient_pk>/caregivers/<int:pk>/edit/", views.CaregiverUpdateView.as_view(), name="caregiver_update"),
    path("<int:patient_pk>/medicines/new/", views.OralMedicineCreateView.as_view(), name="medicine_create"),
    path("<int:patient_pk>/medicines/<int:pk>/edit/", views.OralMedicineUpdateView.as_view(), name="medicine_update"),
    path("<int:patient_pk>/referrals/new/", views.ReferralCreateView.as_view(), name="referral_create"),
    path("<int:patient_pk>/referrals/<int:pk>/edit/", views.ReferralUpdateView.as_view(), name="referral_update"),
    path("referrals/", views.referral_inbox, name="referral_inbox"),
    path("referrals/<int:pk>/", views.referral_detail, name="referral_detail"),
    path("referrals/<int:pk>/decide/", views.referral_decide, name="referral_decide"),
]
