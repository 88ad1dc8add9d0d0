"""Every stage of every shipped config generates: 2 tiny pairs per stage (96x64, 4 samples) of each
config under configs/ that renders pairs, and of each pipeline's generate steps, with the config's
own knobs, scene and validity settings (visible pixels scaled to the tiny image)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dig_core.config import load_config
from dig_core.data.dataset import read_annotations
from dig_core.generate import generate
from omegaconf import OmegaConf

pytestmark = pytest.mark.render
pytest.importorskip("bpy", reason="bpy (Blender as a Python module) is not installed")

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
W, H, PAIRS = 96, 64, 2
#: what the pipelines need to load (a model path that is only named, never read)
PIPELINE_VARS = {"paper.yaml": ["vars.model=/models/unused"]}


def _generating_configs() -> list[Path]:
    return sorted(p for p in CONFIGS.glob("*.yaml") if "curriculum" in OmegaConf.load(p))


def _pipeline_steps() -> list[tuple[str, str]]:
    out = []
    for p in sorted((CONFIGS / "pipelines").glob("*.yaml")):
        steps = OmegaConf.load(p).get("steps") or {}
        out += [(p.name, name) for name, spec in steps.items() if spec.get("type") == "generate"]
    return out


def _tiny(cfg):
    """The config at 96x64, 4 samples, 2 pairs per stage, one worker; visible pixels scaled."""
    scale = (W * H) / (cfg.scene.width * cfg.scene.height)
    cfg.validity.min_visible_pixels = max(4, round(cfg.validity.min_visible_pixels * scale))
    cfg.scene.width, cfg.scene.height = W, H
    cfg.renderer.params.samples = 4
    for st in cfg.curriculum.stages:
        st.pairs = PAIRS
    cfg.generate.workers, cfg.generate.threads, cfg.generate.progress = 1, 2, False
    return cfg


def _check(out: Path, cfg) -> None:
    recs = list(read_annotations(out))
    assert [r["stage"] for r in recs] == [st.name for st in cfg.curriculum.stages for _ in range(PAIRS)]


def test_every_shipped_generating_config_is_covered():
    names = [p.name for p in _generating_configs()]
    assert {"demo.yaml", "paper.yaml", "difficulty-curriculum.yaml", "dig-bench.yaml"} <= set(names), names


@pytest.mark.parametrize("path", _generating_configs(), ids=lambda p: p.stem)
def test_every_stage_of_a_shipped_config_generates(path, tmp_path):
    cfg = _tiny(load_config(path, [], sections=("renderer",)))
    generate(cfg, tmp_path / "out", progress=False)
    _check(tmp_path / "out", cfg)


@pytest.mark.parametrize(("pipeline", "step"), _pipeline_steps(), ids=lambda x: str(x).removesuffix(".yaml"))
def test_every_stage_of_a_shipped_pipelines_data_generates(pipeline, step, tmp_path):
    pytest.importorskip("dig_eval", reason="the pipelines evaluate and report with dig-eval")
    from dig_core.pipeline.spec import load_pipeline

    p = load_pipeline(CONFIGS / "pipelines" / pipeline, PIPELINE_VARS.get(pipeline, []), run_dir=str(tmp_path / "run"))
    cfg = _tiny(p.step(step).config)
    generate(cfg, tmp_path / "out", progress=False)
    _check(tmp_path / "out", cfg)
