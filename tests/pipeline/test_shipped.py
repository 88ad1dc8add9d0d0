"""The shipped pipelines are valid and say what docs/pipeline.md says: `paper` has the paper's
settings (3 x 1,600 pairs, the 1,000-pair DiG-Bench, Qwen3-VL-8B-Thinking from vars.model, the
openrlhf GRPO curriculum, the benchmark list of Tables 1-3 for base and trained); `demo` is small;
`nano` is the DiG-nano study; `nano-base` makes the shipped nano base and `nano-demo` trains it."""

from __future__ import annotations

from pathlib import Path

import pytest
from dig_core.config import read_yaml_mapping
from dig_core.pipeline.spec import load_pipeline

pytest.importorskip("dig_eval", reason="the pipelines evaluate and report with dig-eval")
pytest.importorskip("dig_train_openrlhf", reason="the paper pipeline trains with openrlhf")

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_paper_pipeline_has_the_papers_settings(tmp_path):
    p = load_pipeline(CONFIGS / "pipelines" / "paper.yaml", ["vars.model=/models/Qwen3-VL-8B-Thinking"],
                      run_dir=str(tmp_path / "paper"))
    assert [s.name for s in p.steps] == ["data", "bench", "eval-base", "train", "eval-trained", "report"]
    data, bench = p.step("data").config, p.step("bench").config
    assert [(st.name, st.pairs) for st in data.curriculum.stages] == [("dig-1", 1600), ("dig-2", 1600), ("dig-mix", 1600)]
    assert [st.pairs for st in bench.curriculum.stages] == [250] * 4 and bench.seed_namespace == "dig-bench-v1"
    train = p.step("train").config
    assert train.trainer.name == "openrlhf" and train.trainer.params.model == "/models/Qwen3-VL-8B-Thinking"
    assert train.trainer.params.data == str(tmp_path / "paper" / "data") and train.trainer.params.gpus_per_node == 8
    assert train.task.params.coords == "rel1000"
    paper_evals = read_yaml_mapping(CONFIGS / "eval-paper.yaml")["evaluators"]
    for name, path in (("eval-base", "/models/Qwen3-VL-8B-Thinking"),
                       ("eval-trained", str(tmp_path / "paper" / "train" / "dig-mix" / "checkpoint"))):
        cfg = p.step(name).config
        assert cfg.model.name == "vllm" and cfg.model.params.path == path
        assert cfg.evaluator.name == "dig" and cfg.evaluator.params.dataset == str(tmp_path / "paper" / "bench")
        assert [e.name for e in cfg.evaluators] == [e["name"] for e in paper_evals]
    assert p.step("report").step.config.evals == [str(tmp_path / "paper" / n) for n in ("eval-base", "eval-trained")]


def test_demo_pipeline_is_small_and_cpu_only(tmp_path):
    p = load_pipeline(CONFIGS / "pipelines" / "demo.yaml", run_dir=str(tmp_path / "demo"))
    assert [s.name for s in p.steps] == ["data", "bench", "model", "eval-base", "train", "eval-trained", "report"]
    assert sum(st.pairs for st in p.step("data").config.curriculum.stages) == 6
    assert sum(st.pairs for st in p.step("bench").config.curriculum.stages) == 4
    train = p.step("train").config.trainer
    assert train.name == "trl" and train.params.device == "cpu" and train.params.max_steps == 2
    assert p.step("eval-trained").deps == ["bench", "train"]
    assert p.step("eval-trained").config.model.params.path == p.step("train").outputs["checkpoint"]


def test_nano_pipeline_is_the_study(tmp_path):
    """nano: the nano curriculum and its held-out bench, DiG training from the shipped nano base (the
    grounding base-model stage), every checkpoint scored on the bench."""
    run = tmp_path / "nano"
    p = load_pipeline(CONFIGS / "pipelines" / "nano.yaml", run_dir=str(run))
    assert [s.name for s in p.steps] == ["data", "bench", "train", "eval-base", "eval-sft",
                                         "eval-dig-1", "eval-dig-2", "eval-dig-mix", "report"]
    data, bench = p.step("data").config, p.step("bench").config
    assert [(st.name, st.count_in_prompt) for st in data.curriculum.stages] == [
        ("dig-1", True), ("dig-2", True), ("dig-mix", False)]
    assert (data.scene.width, data.scene.height) == (192, 128) and bench.seed_namespace == "nano-bench-v1"
    train = p.step("train").config.trainer.params
    assert train.model == "tests/assets/nano-base" and train.data == str(run / "data")
    assert data.task.params.template_with_count.startswith("Find the {k_differences}")
    paths = {n: p.step(n).config.model.params.path for n in ("eval-base", "eval-sft", "eval-dig-1", "eval-dig-2", "eval-dig-mix")}
    assert paths == {"eval-base": "tests/assets/nano-base",
                     **{f"eval-{s}": str(run / "train" / s / "checkpoint") for s in ("sft", "dig-1", "dig-2", "dig-mix")}}
    evals = p.step("eval-dig-mix").config.evaluators
    assert [(e.name, e.params.get("stage")) for e in evals] == [
        ("dig", "dig-1"), ("dig", "dig-2"), ("dig", "dig-mix"), ("grounding", None)]
    # the mix-only ablation points the per-stage evals at the SFT checkpoint
    q = load_pipeline(CONFIGS / "pipelines" / "nano.yaml", ["vars.after_dig_1=sft"], run_dir=str(run))
    assert q.step("eval-dig-1").config.model.params.path == str(run / "train" / "sft" / "checkpoint")


def test_nano_base_pipeline_reproduces_the_shipped_base(tmp_path):
    """nano-base: the one command that makes tests/assets/nano-base (the grounding base stage of a
    from-scratch nano Qwen3-VL on 2,000 one-object pairs shown as pairs, scored on 128 held-out pairs)."""
    run = tmp_path / "nano-base"
    p = load_pipeline(CONFIGS / "pipelines" / "nano-base.yaml", run_dir=str(run))
    assert [s.name for s in p.steps] == ["data", "bench", "model", "base"]
    data, bench = p.step("data").config, p.step("bench").config
    assert (data.scene.min_objects, data.scene.max_objects) == (1, 1) and data.seed == 3
    assert [st.pairs for st in data.curriculum.stages] == [2000] and [st.pairs for st in bench.curriculum.stages] == [128]
    assert bench.seed_namespace == "nano-one1-bench-v1" != data.seed_namespace
    assert data.task.params.grounding_template.startswith("Box the {expression}.")
    assert p.step("model").step.config.size == "nano" and p.step("model").step.config.family == "qwen3_vl"
    base = p.step("base").config.trainer.params
    assert base.sft_task == "grounding" and list(base.grpo_stages) == [] and base.sft_eval_data == str(run / "bench")
    assert base.sft_grounding_images == "pair"
    assert p.step("base").outputs["checkpoint"] == str(run / "base" / "ground" / "checkpoint")


def test_nano_demo_pipeline_trains_the_shipped_base(tmp_path):
    """nano-demo (DiG-nano's first rung in one short run): one-object
    DiG-1 pairs, held-out pairs in their own namespace, SFT + GRPO from the shipped nano base, the
    base and both checkpoints scored on the held-out pairs."""
    run = tmp_path / "nano-demo"
    p = load_pipeline(CONFIGS / "pipelines" / "nano-demo.yaml", run_dir=str(run))
    assert [s.name for s in p.steps] == ["data", "bench", "train", "eval-base", "eval-sft", "eval-trained", "report"]
    data, bench = p.step("data").config, p.step("bench").config
    assert data.scene.max_objects == 1 and data.perturbations.weights.add == data.perturbations.weights.remove == 0
    assert bench.seed_namespace != data.seed_namespace
    train = p.step("train").config.trainer.params
    assert train.model == "tests/assets/nano-base" and (CONFIGS.parent / train.model / "config.json").is_file()
    assert train.sft_eval_data == str(run / "bench") and "grpo_stages" not in train and train.max_steps >= 1
    paths = {n: p.step(n).config.model.params.path for n in ("eval-base", "eval-sft", "eval-trained")}
    assert paths == {"eval-base": "tests/assets/nano-base", "eval-sft": str(run / "train" / "sft" / "checkpoint"),
                     "eval-trained": str(run / "train" / "dig-1" / "checkpoint")}
    assert {p.step(n).config.evaluator.params.dataset for n in paths} == {str(run / "bench")}
