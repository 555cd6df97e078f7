from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from appointments.views import calendar_feed
from spasticity import home_views, session_guard, two_factor_views, views

urlpatterns = [
    path("", home_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/enrol/", two_factor_views.enrol, name="two_factor_enrol"),
    path("accounts/two-factor/verify/", two_factor_views.verify, name="two_factor_verify"),
    # Self-saving pages ping this on activity: 204 keeps the session alive, 401 says it has ended.
    path("session/ping/", session_guard.session_ping, name="session_ping"),
    path("patients/", include("patients.urls")),
    path("patients/<int:patient_pk>/access-log/", include("access_log.urls")),
    path("patients/<int:patient_pk>/", include("interop.urls")),
    path("trials/", include("trials.urls")),
    path("goals/", include("trials.goal_urls")),
    path("pumps/", include("pumps.urls")),
    path("alerts/", include("alerts.urls")),
    path("reports/", include("alerts.report_urls")),
    path("imports/", include("imports.urls")),
    path("appointments/", include("appointments.urls")),
    path("devices/", include("devices.urls")),
    # A staff member's private calendar feed: the token is the key (spec section 7).
    path("calendar/<str:token>.ics", calendar_feed, name="calendar_feed"),
    path("history/<str:model_label>/<int:pk>/", views.record_history, name="record_history"),
    path("void/<str:model_label>/<int:pk>/", views.VoidRecordView.as_view(), name="record_void"),
    path("api/v1/", include("spasticity.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # Our template: Swagger UI's stock page has an inline <style> the Content-Security-Policy refuses.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api_schema", template_name="api/swagger_ui.html"),
        name="api_docs",
    ),
    path("admin/", admin.site.urls),
]

# An unknown address under /api/ answers JSON, as the schema documents (spasticity.api_schema).
handler404 = "spasticity.api_errors.not_found"
# A refusal names the role that would be allowed (spasticity.errors).
handler403 = "spasticity.errors.permission_denied"
