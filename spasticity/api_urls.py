"""``/api/v1/``: each app registers its resources on the one router."""

from django.urls import include, path
from rest_framework import routers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny

import patients.api


class TokenView(ObtainAuthToken):
    """``POST /api/v1/auth/token/ {"username", "password"}`` → ``{"token"}``."""

    permission_classes = [AllowAny]


router = routers.DefaultRouter()
patients.api.register(router)


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api_token"),
    path("", include(router.urls)),
]
