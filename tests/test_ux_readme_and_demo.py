"""The README stands alone, and `make demo PORT=8123` serves on that port (issue 14, point 9)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from spasticity.management.commands import run_demo

REPO = Path(__file__).resolve().parent.parent
NEWCOMER_DOCS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
# A Markdown link's target, or a path in backticks.
LINK = re.compile(r"\]\(([^)\s#]+)[^)]*\)")
CODE_PATH = re.compile(r"`([^`\s]*/[^`\s]*)`")


def run_make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", *args], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("doc", NEWCOMER_DOCS, ids=lambda path: path.name)
def test_the_newcomer_docs_point_at_nothing_outside_the_repository(doc: Path):
    text = doc.read_text()
    outside = [
        target
        for target in LINK.findall(text) + CODE_PATH.findall(text)
        if not target.startswith(("http://", "https://", "/"))
        and not (doc.parent / target).resolve().is_relative_to(REPO)
    ]
    assert outside == []
    assert "../shared" not in text


@pytest.mark.parametrize("doc", NEWCOMER_DOCS, ids=lambda path: path.name)
def test_every_relative_link_in_the_newcomer_docs_resolves(doc: Path):
    targets = [t for t in LINK.findall(doc.read_text()) if not t.startswith(("http://", "https://", "mailto:"))]
    assert [t for t in targets if not (doc.parent / t).exists()] == []


def test_the_readme_leads_to_the_product_summary():
    assert "docs/product.md" in (REPO / "README.md").read_text()
    assert "pumps/dosing.py" in (REPO / "docs" / "product.md").read_text()


def demo_server_line(*make_args: str) -> str:
    """What `make demo` would run to serve, from a dry run (nothing is installed or started)."""
    result = run_make("--dry-run", "demo", *make_args)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if "manage.py run_demo" in line]
    return line


def test_make_demo_serves_on_the_port_given():
    assert demo_server_line("PORT=8123").endswith("manage.py run_demo --addrport 127.0.0.1:8123")


def test_make_demo_serves_on_8000_by_default():
    assert demo_server_line().endswith("manage.py run_demo --addrport 127.0.0.1:8000")


@pytest.mark.parametrize("port", ["abc", "0", "70000", "8000;rm"])
def test_make_demo_refuses_a_port_that_is_not_one_before_installing_anything(port: str):
    result = run_make("demo-port", f"PORT={port}")
    assert result.returncode == 2
    assert "PORT must be a port number" in result.stderr


def test_run_demo_hands_its_address_to_the_server(monkeypatch):
    served: list[tuple[Any, ...]] = []

    class FakeWorker:
        def terminate(self) -> None: ...

        def wait(self, timeout: float) -> None: ...

    monkeypatch.setattr(run_demo, "call_command", lambda *args, **kwargs: served.append(args))
    monkeypatch.setattr(run_demo.Command, "start_worker", lambda self: FakeWorker())
    call_command("run_demo", addrport="127.0.0.1:8123")
    assert served == [("runserver", "127.0.0.1:8123")]
