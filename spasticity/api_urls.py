"""``/api/v1/``: each app registers its resources on the one router."""

from django.urls import include, path
from rest_framework import routers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

import alerts.api
import patients.api
import pumps.api
import trials.api


class TokenView(ObtainAuthToken):
    """``POST /api/v1/auth/token/ {"username", "password"}`` → ``{"token"}``."""

    permission_classes = [AllowAny]
    # ObtainAuthToken names DRF's stock parsers; use the API's defaults, which refuse hostile bodies.
    parser_classes = APIView.parser_classes


router = routers.DefaultRouter()
patients.api.register(router)
trials.api.register(router)
pumps.api.register(router)
alerts.api.register(router)


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api_token"),
    *alerts.api.report_urlpatterns(),
    path("", include(router.urls)),
]
