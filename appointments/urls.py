from django.urls import path

from appointments import views

app_name = "appointments"

urlpatterns = [
    path("", views.appointment_week, name="week"),
    path("day/", views.appointment_day, name="day"),
    path("new/", views.AppointmentCreateView.as_view(), name="create"),
    path("calendar/", views.calendar_link, name="calendar"),
    path("not-booked/", views.not_booked, name="not_booked"),
    path("<int:pk>/", views.appointment_detail, name="detail"),
    path("<int:pk>/edit/", views.AppointmentUpdateView.as_view(), name="update"),
    path("<int:pk>/cancel/", views.appointment_cancel, name="cancel"),
    path("<int:pk>/no-show/", views.appointment_no_show, name="no_show"),
    path("<int:pk>/attended/", views.appointment_attended, name="attended"),
]
