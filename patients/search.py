"""Patient search by MRN or name, accent- and case-insensitive ("sian" finds "Siân").

One function for the patient list page and the API. On PostgreSQL the names are compared
through the ``unaccent`` extension (created by migration 0003); on SQLite (the demo) the same
SQL runs against a ``unaccent`` function that this module registers on each connection, written
in Python. The typed term is folded by that same Python function on both, so a term typed
with or without accents reads the same.
"""

from __future__ import annotations

import unicodedata
from typing import Any, TypeVar

from django.contrib.postgres.lookups import Unaccent
from django.db.backends.signals import connection_created
from django.db.models import F, Q, QuerySet

# Letters that carry no combining accent in Unicode, so NFKD leaves them whole; PostgreSQL's
# unaccent rules spell them like this.
LETTERS_WITHOUT_DECOMPOSITION = str.maketrans(
    {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "Æ": "AE",
     "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "TH", "ı": "i"}
)  # fmt: skip


def unaccent(text: str | None) -> str | None:
    """``Siân`` → ``Sian``: the accents dropped, the case kept (the search then ignores case)."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text.translate(LETTERS_WITHOUT_DECOMPOSITION))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def register_sqlite_unaccent(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created``: give a SQLite connection the ``unaccent()`` PostgreSQL has."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("unaccent", 1, unaccent, deterministic=True)


def connect_signals() -> None:
    connection_created.connect(register_sqlite_unaccent, dispatch_uid="patients.search.sqlite_unaccent")


PatientQuerySet = TypeVar("PatientQuerySet", bound=QuerySet[Any])


def patient_search(patients: PatientQuerySet, q: str) -> PatientQuerySet:
    """The patients matching every word of ``q``: an MRN (exactly or its start) or part of a name."""
    patients = patients.alias(family_plain=Unaccent(F("family_name")), given_plain=Unaccent(F("given_name")))
    for term in q.split():
        plain = unaccent(term)
        patients = patients.filter(
            Q(mrn__iexact=term)
            | Q(mrn__istartswith=term)
            | Q(family_plain__icontains=plain)
            | Q(given_plain__icontains=plain)
        )
    return patients
