"""What the nurse's long lists share: whose patients they show, and one page per group.

A nurse with 2,000 pumps cannot read one page holding every row, so the worklist and
today's list show, for every group, its count and one page of its rows; each group
pages on its own (``?page_<group>=N``), and every link keeps the other parameters.

Whose patients (``?who=``):

* ``mine``: patients whose pump nurse is the signed-in user (a nurse's default);
* ``unassigned``: patients with no pump nurse, whom nobody's "mine" shows;
* ``all``: everyone (the default for the other roles).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from spasticity.params import whole_number

MINE = "mine"
UNASSIGNED = "unassigned"
ALL = "all"
NURSE = "nurse"  # one nurse picked by name (today's list lets anyone look at a colleague's)
WHO_CHOICES: tuple[tuple[str, str], ...] = ((MINE, "My patients"), (UNASSIGNED, "Unassigned"), (ALL, "All nurses"))

# Rows a group shows per page. With every group full (6 alert kinds, refills, visits, pumps
# without an alarm date) the worklist measured 112 KB at 20,000 pumps: under the 150 KB budget.
GROUP_PAGE_SIZE = 25
# No list is long enough to need more pages than this; a bigger number is not a page.
MAX_PAGE = 10_000

Row = TypeVar("Row")


@dataclass(frozen=True)
class Whose:
    """Whose patients a list shows: one nurse's, the unassigned ones, or everyone's."""

    who: str = ALL
    nurse_id: int | None = None

    @property
    def unassigned(self) -> bool:
        return self.who == UNASSIGNED


def whose(value: str | None, *, user_id: int, is_nurse: bool) -> Whose:
    """``?who=`` read for the signed-in user: a nurse starts on her own patients, others on everyone's."""
    who = value if value in (MINE, UNASSIGNED, ALL) else (MINE if is_nurse else ALL)
    return Whose(who=who, nurse_id=user_id if who == MINE else None)


def chosen_nurse(nurse_id: int, *, user_id: int) -> Whose:
    """One nurse's patients, picked by name (the signed-in nurse's own are "mine")."""
    return Whose(who=MINE if nurse_id == user_id else NURSE, nurse_id=nurse_id)


def page_param(key: str) -> str:
    return f"page_{key}"


def page_numbers(query: Mapping[str, str], keys: list[str]) -> dict[str, int]:
    """Each group's requested page (``?page_<key>=N``), 1 when absent or not a page number."""
    pages = {}
    for key in keys:
        number = whole_number(query.get(page_param(key), ""))
        pages[key] = number if number is not None and 1 <= number <= MAX_PAGE else 1
    return pages


def page_slice(number: int, total: int, size: int) -> tuple[int, int, int]:
    """(page number, first row, end row) with the number held to the pages there are."""
    last = max(1, -(-total // size))
    number = min(max(number, 1), last)
    start = (number - 1) * size
    return number, start, start + size


@dataclass(frozen=True)
class GroupPage(Generic[Row]):
    """One page of one group's rows, with the group's count."""

    key: str
    label: str
    total: int
    number: int
    size: int
    rows: list[Row]

    @property
    def param(self) -> str:
        return page_param(self.key)

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.page_count

    @property
    def first_row(self) -> int:
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last_row(self) -> int:
        return min(self.number * self.size, self.total)


def queryset_page(rows: Any, *, key: str, label: str, page: int = 1, size: int = GROUP_PAGE_SIZE) -> GroupPage[Any]:
    """One page of a queryset as a ``GroupPage``: a count, then the page's rows (no rows query when empty)."""
    total = rows.count()
    number, start, end = page_slice(page, total, size)
    return GroupPage(key, label, total, number, size, list(rows[start:end]) if total else [])
