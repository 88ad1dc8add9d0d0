"""dig-train-trl on the GPU path, checked on the CPU: bf16 autocast over float32 weights (GRPO through
scripts/trl_precision_check.py, the core of scripts/gpu-smoke-trl.sh, and the SFT warm start), and
TRL's left padding of a batch of prompts of two lengths (log-probs equal to unpadded forwards)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="trl is not installed (pip install dig-train-trl)")
pytest.importorskip("dig_train_trl")

from tests.helpers import write_dig_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TWO_STAGES = "[{name: dig-1, k_min: 1, k_max: 1, count_in_prompt: true, pairs: 2}, " \
             "{name: dig-mix, k_min: 1, k_max: 3, count_in_prompt: false, pairs: 2}]"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_grpo_under_bf16_keeps_float32_weights_and_its_steps_stick(tmp_path):
    """Two GRPO steps at lr 1e-6 with bf16=true: the weights stay float32 and most of them move;
    the same steps on bf16 weights (the trainer's old load) move almost none."""
    out = _script("trl_precision_check").check(tmp_path, device="cpu")
    fp32, pure = out["fp32_master"], out["bf16_weights"]
    assert fp32["bf16_autocast"] and fp32["trained"] == ["torch.float32"]
    assert fp32["changed"] > 0.5 and pure["changed"] < 0.1, out


def test_sft_warm_start_under_bf16_keeps_float32_weights_and_moves_them(tiny_qwen25_vl, tmp_path):
    import torch
    from click.testing import CliRunner
    from dig_core.cli import DigGroup
    from dig_core.cli.commands.train_cmd import train
    from transformers import AutoModelForImageTextToText

    data = write_dig_dataset(tmp_path / "data", size=(64, 48), stages=[("dig-1", 1, 1, True, 4)])
    run = tmp_path / "run"
    cli = DigGroup(commands={})
    cli.add_command(train)
    r = CliRunner().invoke(cli, ["train", "trainer.name=trl", f"trainer.params.model={tiny_qwen25_vl}",
                                 f"trainer.params.data={data}", f"trainer.params.run_dir={run}",
                                 "trainer.params.device=cpu", "trainer.params.bf16=true", "trainer.params.grpo_stages=[]",
                                 "trainer.params.sft_max_steps=2", "trainer.params.sft_learning_rate=1e-6",
                                 "trainer.params.sft_eval_pairs=1", "trainer.params.max_new_tokens=4",
                                 "curriculum.stages=[{name: dig-1, k_min: 1, k_max: 1, count_in_prompt: true, pairs: 4}]"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    trained = AutoModelForImageTextToText.from_pretrained(run / "sft" / "checkpoint", local_files_only=True, dtype="auto")
    base = AutoModelForImageTextToText.from_pretrained(tiny_qwen25_vl, local_files_only=True, dtype="auto")
    assert {p.dtype for p in trained.parameters()} == {torch.float32}
    pairs = list(zip(trained.parameters(), base.parameters()))
    changed = sum(int((a != b).sum()) for a, b in pairs) / sum(a.numel() for a, _ in pairs)
    assert changed > 0.5, changed  # bf16 weights: a few percent (scripts/trl_precision_check.py)


def _logps(trainer, out, keep):
    """Per-token log-probs of ``out``'s completions by TRL's own forward (as its loss computes them)."""
    import torch

    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    with torch.no_grad():
        return trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, mask, keep, pixel_values=out.get("pixel_values"),
            image_grid_thw=out.get("image_grid_thw"), num_images=out.get("num_images"),
            mm_token_type_ids=out.get("mm_token_type_ids"))[0]


def _padding_error(g, inputs) -> float:
    """Largest gap between the log-probs of a generated batch and of each sample forwarded alone."""
    import torch
    from trl.data_utils import apply_chat_template

    trainer, proc = g.trainer, g.vlp.processor
    out = trainer._generate_and_score_completions(inputs)
    lengths = out["prompt_mask"].sum(1).tolist()
    assert len(set(lengths)) == 2, lengths  # two prompt lengths in one batch: the shorter ones are padded
    batch = _logps(trainer, out, out["completion_ids"].size(1))
    worst = 0.0
    for i, ex in enumerate(inputs):
        text = apply_chat_template({"prompt": ex["prompt"]}, proc)["prompt"]
        enc = proc(images=[ex["images"]], text=[text], return_tensors="pt")
        assert torch.equal(enc["input_ids"][0], out["prompt_ids"][i][out["prompt_mask"][i] == 1])
        comp = out["completion_ids"][i][out["completion_mask"][i] == 1][None]
        alone = {"prompt_ids": enc["input_ids"], "prompt_mask": enc["attention_mask"], "completion_ids": comp,
                 "completion_mask": torch.ones_like(comp), "pixel_values": enc["pixel_values"],
                 "image_grid_thw": enc["image_grid_thw"], "num_images": [len(ex["images"])],
                 "mm_token_type_ids": torch.cat([enc["mm_token_type_ids"], torch.zeros_like(comp)], 1)}
        n = comp.size(1)
        worst = max(worst, float((batch[i, :n] - _logps(trainer, alone, n)[0]).abs().max()))
    return worst


def test_prompts_of_two_lengths_in_one_batch_score_as_unpadded(tiny_qwen3_vl, tmp_path):
    """TRL's generation + log-prob path on a batch of a DiG-1 prompt (count given) and a DiG-Mix one
    (shorter): with the processor the trainer builds (left padding) each sample's completion
    log-probs equal those of the sample forwarded alone; with the tokenizer padding on the right
    (the old setting) the M-RoPE type ids are misaligned and they differ."""
    from dig_core.config import load_config
    from dig_core.training import TRAIN_SECTIONS, RunDir, resolve_trainer
    from dig_train_trl.data import grpo_dataset

    data = write_dig_dataset(tmp_path / "data", size=(64, 48), stages=[("dig-1", 1, 1, True, 2),
                                                                        ("dig-mix", 1, 3, False, 2)])
    cfg = load_config(None, ["trainer.name=trl", f"trainer.params.model={tiny_qwen3_vl}", f"trainer.params.data={data}",
                             f"trainer.params.run_dir={tmp_path / 'run'}", "trainer.params.device=cpu",
                             "trainer.params.num_generations=2", "trainer.params.max_new_tokens=6",
                             "trainer.params.report_to=[]", "trainer.params.save_steps=-1", "trainer.params.seed=0",
                             f"curriculum.stages={TWO_STAGES}"], sections=TRAIN_SECTIONS)
    trainer = resolve_trainer(cfg)
    trainer.progress = False
    stage = trainer.plan(cfg)[0]
    rows = trainer._load_rows(cfg, stage.init_model)
    g = trainer.grpo_stage(cfg, RunDir(tmp_path / "run"), stage)
    try:
        assert g.vlp.tokenizer.padding_side == "left"
        ds = grpo_dataset([rows["dig-1"][0], rows["dig-mix"][0]])
        inputs = [ds[0], ds[0], ds[1], ds[1]]  # G = 2 completions per prompt
        assert _padding_error(g, inputs) < 1e-6
        g.vlp.tokenizer.padding_side = "right"
        assert _padding_error(g, inputs) > 1e-4
    finally:
        g.close()
