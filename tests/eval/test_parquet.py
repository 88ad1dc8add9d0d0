"""dig_eval.evaluators.parquet: where pyarrow does not import, the error names the fix that works, and
every pyarrow requirement of the workspace keeps the release that imports beside bpy's numpy 1."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from dig_eval.evaluators.parquet import PYARROW_REQUIREMENT, pyarrow_error

ROOT = Path(__file__).resolve().parents[2]


def test_pyarrow_26_beside_numpy_1_names_the_pin_not_the_extra():
    msg = pyarrow_error(ImportError("pyarrow requires NumPy 2.0 or newer"), "26.0.0", "1.26.4")
    assert "pyarrow 26.0.0 needs NumPy 2" in msg and "NumPy 1.26.4" in msg
    assert f"pip install '{PYARROW_REQUIREMENT}'" in msg and "dig-eval[data]" not in msg


def test_missing_pyarrow_names_the_extra():
    msg = pyarrow_error(ImportError("No module named 'pyarrow'"), None, "1.26.4")
    assert msg.endswith("pip install 'dig-eval[data]'") and "No module named" in msg


def test_a_broken_pyarrow_of_a_good_release_is_reinstalled():
    msg = pyarrow_error(ImportError("libarrow.so: cannot open shared object"), "25.0.1", "2.1.0")
    assert "pyarrow 25.0.1 is installed but does not import" in msg and "--force-reinstall" in msg


def test_every_declared_pyarrow_stays_below_26():
    """pip sees no conflict between pyarrow 26 and bpy's numpy < 2: each declaration pins it."""
    found = []
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        reqs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            reqs += extra
        for req in reqs:
            if re.match(r"pyarrow\b", req):
                found.append((pyproject.parent.name, req))
                assert "<26" in req or re.search(r"==\s*(1\d|2[0-5])\.", req), (pyproject, req)
    assert ("dig-eval", PYARROW_REQUIREMENT) in found, found
