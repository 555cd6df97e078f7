"""``/api/v1/``: each app registers its resources on the one router."""

from django.urls import include, path
from rest_framework import routers

import alerts.api
import appointments.api
import devices.api
import imports.api
import interop.api
import patients.api
import pumps.api
import trials.api
from spasticity.api_auth import TokenView

router = routers.DefaultRouter()
patients.api.register(router)
trials.api.register(router)
pumps.api.register(router)
alerts.api.register(router)
appointments.api.register(router)
devices.api.register(router)


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api_token"),
    *alerts.api.report_urlpatterns(),
    *interop.api.urlpatterns(),
    *imports.api.urlpatterns(),
    path("", include(router.urls)),
]
