"""A missing piece (Kubric itself, or a module it imports) is a clear error naming it and its install."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# a real import failure: a meta-path finder that reports the named top-level modules as not installed
BLOCK = textwrap.dedent("""
    import sys
    class Block:
        def __init__(self, names): self.names = set(names)
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.names:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, Block(sys.argv[1].split(",")))
    del sys.argv[1]
""")


def run(blocked: str, *code: str) -> subprocess.CompletedProcess:
    prog = BLOCK + "\n".join(code)
    return subprocess.run([sys.executable, "-c", prog, blocked], capture_output=True, text=True,
                          env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})


def test_missing_kubric_names_the_install_command():
    pytest.importorskip("dig_render_kubric")
    r = run("kubric", "from dig_render_kubric.loader import load_kubric", "load_kubric()")
    assert r.returncode != 0
    assert "missing: kubric (install with `pip install --no-deps kubric-nightly==2023.12.27`)" in r.stderr


def test_missing_runtime_module_is_named():
    pytest.importorskip("dig_render_kubric")
    r = run("pybullet,pyquaternion", "from dig_render_kubric.loader import load_kubric", "load_kubric()")
    assert r.returncode != 0
    assert "pybullet (import pybullet:" in r.stderr and "pyquaternion (import pyquaternion:" in r.stderr


def test_cli_reports_the_missing_piece_without_traceback(tmp_path):
    pytest.importorskip("dig_render_kubric")
    pytest.importorskip("bpy", reason="bpy (Blender as a Python module) is not installed")
    r = run("kubric", "from dig_core.cli import main",
            f"main(['generate', '--out', {str(tmp_path / 'ds')!r}, 'renderer.name=kubric', 'scene.width=32', "
            "'scene.height=32', 'curriculum.stages[0].pairs=1', 'generate.workers=1', 'generate.progress=false'])")
    assert r.returncode == 1, r.stderr
    assert "error: renderer 'kubric' cannot start, missing: kubric" in r.stderr and "Traceback" not in r.stderr


def test_tensorflow_stand_in_serves_kubric_file_io_and_leaves(tmp_path):
    from tests.render_kubric.conftest import PROBLEM

    if PROBLEM is not None:
        pytest.skip(f"kubric is not importable: {PROBLEM}")
    import importlib.util

    from dig_render_kubric.loader import load_kubric

    kb = load_kubric()["kb"]
    if importlib.util.find_spec("tensorflow") is None:
        assert "tensorflow" not in sys.modules  # the stand-in was only there while Kubric imported
    path = tmp_path / "sub" / "data.json"
    kb.write_json({"a": [1, 2]}, path)  # Kubric's own file_io, through tf.io.gfile.GFile
    assert path.read_text().replace(" ", "").replace("\n", "") == '{"a":[1,2]}'
    kb.write_png(np.zeros((4, 5, 3), np.uint8), tmp_path / "x.png")
    assert kb.read_png(tmp_path / "x.png").shape == (4, 5, 3)
