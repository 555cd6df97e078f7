"""The scale benchmark at 2,000 pumps (issue 10): ``scripts/bench_caseload.py`` in a test.

Every figure of the table is measured, each floor gives the app's answer (the same alerts,
the same rows), and the app stays within limits derived from issue 10's. Those are set at
20,000 pumps; at 2,000 a report's floor takes 2 to 4 ms, so what the app pays once per
request (the session, the access-log row, the page around the table) weighs about ten times
more against it, and the ratios in ``LIMITS_AT_2000`` are wider, set from runs on a 2-CPU
machine (``docs/performance.md``); the page sizes and times keep the 20,000-pump limits.
Timing tests: run them on a quiet machine, with ``pytest -m bench tests/bench`` or ``make bench``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from django.template.base import Template

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

PUMPS = 2000
FIGURES = {
    "scan_first",
    "scan_second",
    "overdue_json",
    "overdue_csv",
    "overdue_html",
    "battery_json",
    "battery_csv",
    "battery_html",
    "nurse_home",
    "worklist",
    "today",
    "refill",
}
WITHOUT_FLOOR = {"nurse_home", "worklist", "today"}

# Figure key → its limits at 2,000 pumps (the fields of ``Figure``); a figure left out has none
# here: the second scan (issue 10 sets none) and the refill (its query count is pinned by the
# pumps tests, issue 10 point 7).
LIMITS_AT_2000: dict[str, dict[str, Any]] = {
    # A regression guard: at 2,000 pumps the scan's floor is 10 to 30 ms, and the scan ran at 9.5× it
    # (load average 8 on 2 CPUs) since it writes its alerts, history and emails set-based (it was 34× to 55×).
    "scan_first": {"max_ratio": 25, "max_ms": 5000},
    "overdue_json": {"max_ratio": 15},
    "overdue_csv": {"max_ratio": 15},
    "overdue_html": {"max_ms": 100},
    "battery_json": {"max_ratio": 25},
    "battery_csv": {"max_ratio": 25},
    "battery_html": {"max_ms": 100},
    "nurse_home": {"max_kb": 150, "max_p95_ms": 150},
    "worklist": {"max_kb": 150, "max_p95_ms": 150},
    "today": {"max_kb": 150, "max_p95_ms": 150},
}


def served_render(template: Template, context: Any) -> Any:
    """``Template._render`` as Django defines it, before the test environment instruments it."""
    return template.nodelist.render(context)


@pytest.fixture
def figures(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from scripts import bench_caseload

    # Time the pages as they are served: under pytest every template rendered sends a signal
    # and the test client copies its context, which at 20 rows a group doubles a page's time.
    monkeypatch.setattr(Template, "_render", served_render)
    measured = bench_caseload.run_bench(PUMPS, repeats=3, scan_repeats=2, requests=20, say=lambda _line: None)
    with capsys.disabled():
        print(f"\n{PUMPS:,} pumps\n{bench_caseload.table(measured)}")
    return {figure.key: figure for figure in measured}


def test_the_benchmark_measures_every_figure_against_a_floor_that_gives_the_same_answer(figures):
    assert set(figures) == FIGURES
    for key, figure in figures.items():
        assert figure.app_ms and all(ms > 0 for ms in figure.app_ms), key
        assert figure.queries, key
        if key in WITHOUT_FLOOR:
            assert figure.size_kb, key
            continue
        assert figure.floor is not None and figure.floor > 0, key
        assert figure.agrees, f"{figure.label}: the floor's answer is not the app's ({figure.note})"
    assert "alerts raised" in figures["scan_first"].note
    assert figures["scan_second"].note.startswith("app changed 0, floor found 0")

    missed = {figures[key].label: replace(figures[key], **limits).misses() for key, limits in LIMITS_AT_2000.items()}
    assert not {label: misses for label, misses in missed.items() if misses}
