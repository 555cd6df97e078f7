"""Goal pages, under ``/goals/`` (the goals belong to the patient, not to one trial)."""

from django.urls import path

from trials import views

app_name = "goals"

urlpatterns = [
    path("patient/<int:patient_pk>/", views.patient_goals, name="patient_goals"),
    path("patient/<int:patient_pk>/new/", views.GoalCreateView.as_view(), name="create"),
    path("<int:pk>/edit/", views.GoalUpdateView.as_view(), name="update"),
    path("<int:goal_pk>/reviews/new/", views.GoalReviewCreateView.as_view(), name="review_create"),
]
