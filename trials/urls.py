from django.urls import path

from trials import views

app_name = "trials"

urlpatterns = [
    path("", views.trial_day_list, name="day_list"),
    path("patient/<int:patient_pk>/new/", views.TrialCreateView.as_view(), name="create"),
    path("<int:pk>/", views.trial_detail, name="detail"),
    path("<int:pk>/edit/", views.TrialUpdateView.as_view(), name="update"),
    path("<int:pk>/observations/", views.TrialObservationsView.as_view(), name="observations"),
    path("<int:pk>/cell/", views.trial_cell, name="cell"),
    path("<int:pk>/spasm-cell/", views.trial_spasm_cell, name="spasm_cell"),
    path("<int:pk>/sign-off/", views.trial_sign_off, name="sign_off"),
    path("<int:pk>/amend/", views.trial_amend, name="amend"),
    path("<int:pk>/score-history/", views.trial_score_history, name="score_history"),
]
