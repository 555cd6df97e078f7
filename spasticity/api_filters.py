"""List filters: a filter by a related record's id (``?patient=12``) is a plain whole number.

django-filter's default for a foreign key checks the id against the table and answers 400
"Select a valid choice" when nothing has it. The API documents these filters as integers, so
a well-formed id that names nothing lists nothing (an empty page), and only a malformed one
(``?patient=abc``) is a 400.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field


@extend_schema_field(OpenApiTypes.INT)
class RecordIdFilter(django_filters.NumberFilter):
    """A related record's id: a whole number, not checked against the table."""

    field_class = forms.IntegerField


class ClinicFilterSet(django_filters.FilterSet):
    """The base of every API filter set (also the one built from a view's ``filterset_fields``)."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": RecordIdFilter},
        models.OneToOneField: {"filter_class": RecordIdFilter},
    }


class ClinicFilterBackend(DjangoFilterBackend):
    filterset_base = ClinicFilterSet
