"""Meta-tests: every hook has a test that uses it and an entry in the docs."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from dig_core.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_"))


def test_hooks_found():
    assert "register_perturbations" in HOOKS and len(HOOKS) >= 9


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    me = Path(__file__).resolve()
    users = [p for p in (ROOT / "tests").rglob("test_*.py") if p.resolve() != me and hook in p.read_text()]
    assert users, f"no test under tests/ implements or calls {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    docs = (ROOT / "docs" / "hooks.md").read_text()
    assert f"`{hook}" in docs, f"docs/hooks.md has no entry for {hook}"


def test_every_hook_has_a_docstring():
    for hook in HOOKS:
        assert (getattr(hookspecs, hook).__doc__ or "").strip(), hook


def test_docs_links_resolve():
    import runpy

    check = runpy.run_path(str(ROOT / "docs" / "check_docs.py"))
    assert check["broken_links"]() == []
