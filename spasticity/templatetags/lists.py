"""Links for the nurse's grouped lists (``spasticity.lists``): each group pages on its own."""

from __future__ import annotations

import datetime
from functools import lru_cache
from typing import Any

from django import template
from django.urls import get_script_prefix, reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def group_page_url(context: Any, group: Any, number: int) -> str:
    """This page's address with ``group`` on page ``number``: the filters and the other groups' pages stay."""
    params = context["request"].GET.copy()
    if number <= 1:
        params.pop(group.param, None)
    else:
        params[group.param] = str(number)
    # Always a "?": a bare "#group-…" would stay on the current page instead of going to page 1.
    return f"?{params.urlencode()}#group-{group.key}"


# A stand-in id, reversed once per URL name, so that a page of 150 rows does not resolve
# 600 URLs one by one (``reverse`` is the largest cost of rendering these lists).
_PLACEHOLDER_ID = 987654321


@lru_cache(maxsize=64)
def _url_around_id(name: str, script_prefix: str) -> tuple[str, str]:
    head, _, tail = reverse(name, args=[_PLACEHOLDER_ID]).partition(str(_PLACEHOLDER_ID))
    return head, tail


@register.filter
def url_with_id(record_id: int, name: str) -> str:
    """``{{ alert.pk|url_with_id:"alerts:detail" }}``: the same URL as ``{% url name record_id %}``."""
    head, tail = _url_around_id(name, get_script_prefix())
    return f"{head}{int(record_id)}{tail}"


@register.filter
def iso_date(value: datetime.date | None) -> str:
    """YYYY-MM-DD, as ``|date:"Y-m-d"`` gives, without the locale lookups (a long list has hundreds)."""
    return value.isoformat() if value else ""
