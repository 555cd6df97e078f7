"""A ``.values()`` queryset compiled to SQL once, then run for many id ranges.

Why: the alert scan asks the same question of every chunk of pumps, and its question is
large (the watched filter, every row source's ``Exists`` and ``Subquery``). Building and
compiling those expressions again for each chunk cost the scan more time than PostgreSQL
spent running them. ``RangeQuery.compile`` builds the SQL once with two sentinel bounds;
``rows(lo, hi)`` swaps the real bounds into the parameters and runs it, and Django's own
compiler converts each row (dates on SQLite, decimals), exactly as ``.values()`` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler

# Bounds no real parameter takes (ids and dates are never these negative numbers), so
# each is found exactly once among the compiled parameters and can be swapped.
_LOWER_SENTINEL = -730_100_001
_UPPER_SENTINEL = -730_100_002


@dataclass(frozen=True)
class RangeQuery:
    """``queryset.filter(<field>__gte=lo, <field>__lt=hi)``, compiled once."""

    compiler: SQLCompiler
    using: str  # the database alias
    sql: str
    params: tuple[Any, ...]
    lower_at: int
    upper_at: int
    names: tuple[str, ...]

    @classmethod
    def compile(cls, queryset: QuerySet[Any, Any], *, field: str) -> RangeQuery:
        """``queryset`` must come from ``.values(...)``: its rows are read as dicts by name."""
        bounded = queryset.filter(**{f"{field}__gte": _LOWER_SENTINEL, f"{field}__lt": _UPPER_SENTINEL})
        query = bounded.query
        compiler = query.get_compiler(using=bounded.db)
        sql, params = compiler.as_sql()
        if compiler.has_extra_select:
            # Django trims ORDER BY columns added to the SELECT only in execute_sql, which rows() skips.
            raise ValueError("RangeQuery: order only by selected columns (the query adds columns to sort by)")
        params = tuple(params)
        if params.count(_LOWER_SENTINEL) != 1 or params.count(_UPPER_SENTINEL) != 1:
            raise ValueError("RangeQuery: the sentinel bounds must each appear once among the parameters")
        # The same names, in the same order, as ``ValuesIterable`` gives the row's columns.
        names = (
            list(query.selected)
            if query.selected
            else [*query.extra_select, *query.values_select, *query.annotation_select]
        )
        return cls(
            compiler=compiler,
            using=bounded.db,
            sql=sql,
            params=params,
            lower_at=params.index(_LOWER_SENTINEL),
            upper_at=params.index(_UPPER_SENTINEL),
            names=tuple(names),
        )

    def tuples(self, lower: int, upper: int) -> Iterator[tuple[Any, ...]]:
        """The rows with ``lower <= field < upper``, converted, in ``names`` order. One query."""
        params = list(self.params)
        params[self.lower_at] = lower
        params[self.upper_at] = upper
        with connections[self.using].cursor() as cursor:
            cursor.execute(self.sql, params)
            fetched = cursor.fetchall()
        return cast(Iterator[tuple[Any, ...]], self.compiler.results_iter(results=[fetched], tuple_expected=True))

    def rows(self, lower: int, upper: int) -> Iterator[dict[str, Any]]:
        """The same rows as ``.values()`` dicts."""
        names = self.names
        return (dict(zip(names, row, strict=True)) for row in self.tuples(lower, upper))
