"""Shared test fixtures for every test package.

- ``tiny_qwen25_vl`` / ``tiny_qwen3_vl``: the folder of a tiny random Qwen2.5-VL / Qwen3-VL built
  locally once per session with :func:`dig_core.models.tiny.build_tiny_vlm` (no hub access; default
  min/max pixels of that function). Tests that use them are skipped where transformers or
  torchvision cannot be imported (the ``dig-core[hf]`` extra).
- The whole session runs with ``HF_HUB_OFFLINE=1``: no test may reach the Hugging Face hub.

Tiny DiG dataset folders (no Blender needed) come from :func:`tests.helpers.write_dig_dataset`.

The session stops at once, naming the package, where an editable install of a workspace package
carries other entry points than its ``pyproject.toml`` declares (the environment predates a change to
it): plugins would silently be missing. ``hatch env prune`` (or ``pip install -e packages/X``) fixes it.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import tomllib
from pathlib import Path

import pytest

# before anything imports huggingface_hub (it reads the variable at import time)
os.environ["HF_HUB_OFFLINE"] = "1"


ROOT = Path(__file__).resolve().parents[1]


def _stale_installs() -> list[str]:
    """Workspace packages installed editable from this checkout whose entry points differ from their
    pyproject.toml's."""
    stale = []
    for pyproject in sorted([*ROOT.glob("packages/*/pyproject.toml"), *ROOT.glob("examples/*/pyproject.toml")]):
        project = tomllib.loads(pyproject.read_text())["project"]
        try:
            dist = md.distribution(project["name"])
        except md.PackageNotFoundError:
            continue
        url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
        if url.removeprefix("file://") != str(pyproject.parent):
            continue  # installed from elsewhere (a wheel, another checkout): not ours to judge
        declared = {(group, name, value) for group, eps in project.get("entry-points", {}).items()
                    for name, value in eps.items()}
        declared |= {("console_scripts", name, value) for name, value in project.get("scripts", {}).items()}
        installed = {(ep.group, ep.name, ep.value) for ep in dist.entry_points}
        if declared != installed:
            stale.append(f"{project['name']} ({pyproject.parent.relative_to(ROOT)})")
    return stale


def pytest_sessionstart(session: pytest.Session) -> None:
    if stale := _stale_installs():
        pytest.exit(f"the editable install of {', '.join(stale)} has other entry points than its pyproject.toml "
                    "declares (the environment predates a change to it): run `hatch env prune` and test again, "
                    "or `pip install --no-deps -e <folder>` in this environment", returncode=3)


def _require_hf() -> None:
    pytest.importorskip("transformers", reason="transformers is not installed (pip install 'dig-core[hf]')")
    try:
        import torchvision  # noqa: F401
        from transformers import AutoProcessor  # noqa: F401
    except Exception as e:  # noqa: BLE001 - a torch/torchvision mismatch raises RuntimeError
        pytest.skip(f"torchvision / transformers' processors cannot be imported ({type(e).__name__}: {e})")


def _tiny(family: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_hf()
    from dig_core.models.tiny import build_tiny_vlm

    return build_tiny_vlm(family, tmp_path_factory.mktemp("tiny-models") / family, seed=0)


@pytest.fixture(scope="session")
def tiny_qwen25_vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Qwen2.5-VL (answers in pixels of its resized input; patch 14)."""
    return _tiny("qwen2_5_vl", tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_qwen3_vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Qwen3-VL (answers on 0-1000; patch 16)."""
    return _tiny("qwen3_vl", tmp_path_factory)
