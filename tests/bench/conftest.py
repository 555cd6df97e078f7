"""The benchmark runs only when asked for: ``pytest -m bench`` (``make bench``).

Any other run (``make test``, a plain ``pytest``, ``-m "not browser"``) deselects the tests
marked ``bench``: they load thousands of pumps and time them, which belongs in a benchmark
run, not in every test run.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "bench" in (config.getoption("markexpr") or ""):
        return  # the marker expression names the benchmark: it decides
    benchmark = [item for item in items if item.get_closest_marker("bench")]
    if benchmark:
        config.hook.pytest_deselected(items=benchmark)
        items[:] = [item for item in items if not item.get_closest_marker("bench")]
