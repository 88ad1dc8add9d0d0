"""dig-train-trl: real few-step `dig train trainer.name=trl` runs on a tiny random Qwen2.5-VL (TRL's
real GRPOTrainer, real processors, CPU) over a tiny DiG dataset, through an SFT warm start and three
curriculum stages; resume; `dig plot-rewards`; the reward function on garbage; the warm start
teaching the answer format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="trl is not installed (pip install dig-train-trl)")
pytest.importorskip("dig_train_trl")

from click.testing import CliRunner  # noqa: E402
from dig_core.cli import DigGroup  # noqa: E402
from dig_core.training import REWARD_FIELDS, RunDir, read_rewards  # noqa: E402

from tests.helpers import thinking_copy, write_dig_dataset  # noqa: E402

STAGES = [("dig-1", 1, 1, True, 2), ("dig-2", 2, 2, True, 2), ("dig-mix", 1, 3, False, 2)]
G = 4
STEPS = 2


def _cli():
    from dig_core.cli.commands.plot_cmd import plot_rewards
    from dig_core.cli.commands.train_cmd import train

    cli = DigGroup(commands={})
    cli.add_command(train)
    cli.add_command(plot_rewards)
    return cli


def _stage_overrides() -> list[str]:
    out = []
    for i, (name, kmin, kmax, cip, pairs) in enumerate(STAGES):
        out += [f"curriculum.stages.{i}.name={name}", f"curriculum.stages.{i}.k_min={kmin}",
                f"curriculum.stages.{i}.k_max={kmax}", f"curriculum.stages.{i}.count_in_prompt={cip}",
                f"curriculum.stages.{i}.pairs={pairs}"]
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dig_dataset(tmp_path_factory.mktemp("trl-data") / "data", size=(64, 48), stages=STAGES)


def overrides(model: Path, data: Path, run: Path, *more: str) -> list[str]:
    return ["trainer.name=trl", f"trainer.params.model={model}", f"trainer.params.data={data}",
            f"trainer.params.run_dir={run}", f"trainer.params.num_generations={G}",
            "trainer.params.max_new_tokens=16", f"trainer.params.max_steps={STEPS}", "trainer.params.seed=0",
            *_stage_overrides(), *more]


def train(args: list[str]):
    r = CliRunner().invoke(_cli(), ["train", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture(scope="module")
def trained(tiny_qwen25_vl, dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("trl-run") / "run"
    args = overrides(tiny_qwen25_vl, dataset, run, "trainer.params.sft_max_steps=3", "trainer.params.sft_eval_pairs=2",
                     "trainer.params.save_steps=1", "trainer.params.keep_trl_checkpoints=true",
                     "trainer.params.stages.dig-2.beta=0.05")
    out = train(args)
    return run, args, out


def test_three_stages_log_every_reward_component(trained):
    run, _, out = trained
    rd = RunDir(run)
    manifest = rd.read_manifest()
    assert manifest["trainer"] == "trl"
    assert manifest["stages"] == ["sft", "dig-1", "dig-2", "dig-mix"]
    assert manifest["samples_per_step"] == G
    rewards = read_rewards(run)
    assert list(rewards) == ["dig-1", "dig-2", "dig-mix"]  # the warm start logs no GRPO samples
    for name, _, _, _, _ in STAGES:
        recs = rewards[name]
        assert len(recs) == STEPS * G, name
        assert [r["step"] for r in recs] == list(range(STEPS * G))
        for rec in recs:
            missing = [k for k in REWARD_FIELDS if k not in rec]
            assert not missing, (name, rec)
            assert rec["stage"] == name and rec["id"].startswith(name)
            assert 0.0 <= rec["reward"] <= 1.0 + 1e-9 and math.isfinite(rec["accuracy"])
        done = rd.read_done(name)
        assert done["reason"] == "completed" and done["step"] == STEPS
    # each stage starts from the previous stage's checkpoint; beta relaxed in the first GRPO stage
    assert f"from {run / 'sft' / 'checkpoint'}" in out
    assert "stage dig-1: GRPO on 2 pairs, G=4, beta=0.001" in out
    assert "stage dig-2: GRPO on 2 pairs, G=4, beta=0.05" in out
    assert "stage dig-mix: GRPO on 2 pairs, G=4, beta=0.01" in out
    log = [json.loads(x) for x in (run / "dig-1" / "train.log").read_text().splitlines()]
    assert any("frac_reward_zero_std" in rec for rec in log)
    evals = [json.loads(x) for x in (run / "sft" / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [0, 3]


def test_checkpoint_loads_and_generates(trained, tiny_qwen25_vl):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    run, _, _ = trained
    ckpt = run / "dig-mix" / "checkpoint"
    model = AutoModelForImageTextToText.from_pretrained(ckpt, local_files_only=True).eval()
    processor = AutoProcessor.from_pretrained(ckpt, local_files_only=True)
    from PIL import Image

    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "boxes?"}]}]
    prompt = processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    ims = [Image.new("RGB", (64, 48), (90, 90, 90)), Image.new("RGB", (64, 48), (120, 90, 90))]
    enc = processor(text=[prompt], images=ims, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > enc["input_ids"].shape[1]
    # the trained weights differ from the base model's (GRPO and SFT steps moved them)
    base = AutoModelForImageTextToText.from_pretrained(tiny_qwen25_vl, local_files_only=True)
    moved = [n for (n, a), (_, b) in zip(model.named_parameters(), base.named_parameters()) if not torch.equal(a, b)]
    assert moved


def test_rerun_skips_done_stages_and_resumes_from_trl_checkpoint(trained):
    run, args, _ = trained
    before = {n: (run / n / "rewards.jsonl").read_text() for n, *_ in STAGES}
    out = train(args)
    assert "all 4 stages are done" in out
    # an interrupted last stage: its DONE and final model gone, TRL's step-2 checkpoint kept
    (run / "dig-mix" / "DONE").unlink()
    import shutil

    shutil.rmtree(run / "dig-mix" / "checkpoint")
    out = train(args)
    assert "stage sft: done" in out and "stage dig-2: done" in out
    assert "resuming from" in out and "checkpoint-2 (step 2)" in out
    assert (run / "dig-mix" / "checkpoint" / "config.json").is_file()
    after = {n: (run / n / "rewards.jsonl").read_text() for n, *_ in STAGES}
    assert after == before  # nothing trained twice, nothing logged twice


def test_plot_rewards(trained, tmp_path):
    run, _, _ = trained
    png = tmp_path / "curve.png"
    r = CliRunner().invoke(_cli(), ["plot-rewards", str(run), "--out", str(png)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name, *_ in STAGES:
        assert name in r.output


def test_bad_params_fail_before_training(tiny_qwen25_vl, dataset, tmp_path):
    r = CliRunner().invoke(_cli(), ["train", *overrides(tiny_qwen25_vl, dataset, tmp_path / "r",
                                                        "trainer.params.loss_type=ppo")])
    assert r.exit_code != 0
    assert "loss_type" in r.output and "'grpo'" in r.output
    assert not (tmp_path / "r").exists()


def test_reward_func_never_raises(tmp_path):
    from dig_core.config import load_config
    from dig_core.training.labels import Label
    from dig_train_trl.reward import DigRewardFunc

    cfg = load_config(None, [], sections=("task", "reward"))
    fn = DigRewardFunc(cfg, tmp_path, "dig-1")
    good = Label("p1", "dig-1", 1, ((10.0, 10.0, 30.0, 20.0),), 64.0, 48.0, "pixels", (1.0, 1.0)).to_json()
    completions = [[{"role": "assistant", "content": "[[10, 10, 30, 20]]"}], "[[10, 10, 30, 20]]", None, 42,
                   [{"role": "assistant", "content": [{"type": "text", "text": "[[10,10,30,20]]"}]}],
                   [{"role": "assistant", "content": None}], [], {"x": 1}, "garbage [[1, 2", "[[nan, 1, 2, 3]]"]
    labels = [good, good, good, good, good, good, good, good, "{bad json", {"id": 5}]
    rewards = fn(completions=completions, label=labels, prompts=None, completion_ids=None)
    assert rewards[:2] == [1.0, 1.0] and rewards[4] == 1.0
    assert len(rewards) == len(completions) and all(r == 0.0 for r in rewards[2:4] + rewards[5:])
    assert fn(completions=None, label=None) == []
    short = fn(completions=["[[1, 1, 2, 2]]"] * 3, label=[good])
    assert len(short) == 3 and short[1:] == [0.0, 0.0]
    fn.close()
    recs = [json.loads(x) for x in (tmp_path / "dig-1" / "rewards.jsonl").read_text().splitlines()]
    assert len(recs) == len(completions) + 3
    assert all(all(k in r for k in REWARD_FIELDS) for r in recs)
    assert sum("error" in r for r in recs) >= 5


def test_sft_target_is_the_full_reward_answer(tiny_qwen25_vl, tiny_qwen3_vl, dataset):
    """The warm-start answer, parsed in the label's coords and scale, scores reward 1."""
    from dig_core.config import load_config
    from dig_core.models.vlm import VLProcessor
    from dig_core.training.reward_log import SampleScorer
    from dig_train_trl.data import answer_task, load_rows, target_answer

    cfg = load_config(None, _stage_overrides(), sections=("task", "reward"))
    scorer = SampleScorer(cfg)
    for model in (tiny_qwen25_vl, tiny_qwen3_vl):
        vlp = VLProcessor(model)
        task = answer_task(cfg, vlp.coords)
        rows = [r for rs in load_rows(cfg, dataset, vlp).values() for r in rs]
        assert len(rows) == 6
        for row in rows:
            rec = scorer.score_sample(target_answer(task, row), row.label.to_json())
            # integer pixels of a 64x48 image: rounding costs a few IoU points
            assert rec["f1"] == 1.0 and rec["reward"] > 0.9 and rec["format"] == 1.0, (vlp.coords, target_answer(task, row), rec)


def test_warm_start_teaches_the_answer_format(tiny_qwen25_vl, dataset, tmp_path):
    """A few dozen SFT steps take the greedy answers' format reward from 0 to at least 0.5."""
    run = tmp_path / "run"
    train(overrides(tiny_qwen25_vl, dataset, run, "trainer.params.sft_max_steps=120",
                    "trainer.params.sft_learning_rate=3e-3", "trainer.params.sft_eval_steps=40",
                    "trainer.params.sft_eval_pairs=6", "trainer.params.max_steps=1", "trainer.params.save_steps=-1"))
    evals = [json.loads(x) for x in (run / "sft" / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [0, 40, 80, 120]
    assert evals[0]["format"] == 0.0
    assert evals[-1]["format"] >= 0.5, evals
    losses = [json.loads(x)["loss"] for x in (run / "sft" / "train.log").read_text().splitlines()]
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


def test_grounding_warm_start_alone_is_a_base_model_stage(tiny_qwen3_vl, tmp_path):
    """sft_task=grounding with grpo_stages=[]: one stage, single-image grounding rows (the answer is
    one box, the label that box), a cosine schedule with warm-up, and a loadable checkpoint."""
    from dig_core.config import load_config
    from dig_core.models.vlm import VLProcessor
    from dig_core.training.reward_log import SampleScorer
    from dig_train_trl.data import answer_task, grounding_rows, target_answer

    data = write_dig_dataset(tmp_path / "g", size=(64, 48), seed=3, stages=[("dig-1", 1, 1, True, 12)])
    held = write_dig_dataset(tmp_path / "h", size=(64, 48), seed=4, stages=[("dig-1", 1, 1, True, 12)])
    run = tmp_path / "run"
    out = train(overrides(tiny_qwen3_vl, data, run, "trainer.params.sft_task=grounding",
                          f"trainer.params.sft_eval_data={held}",
                          "trainer.params.sft_stage_name=ground", "trainer.params.grpo_stages=[]",
                          "trainer.params.sft_max_steps=6", "trainer.params.sft_batch_size=2",
                          "trainer.params.sft_lr_scheduler_type=cosine", "trainer.params.sft_warmup_steps=2",
                          "trainer.params.sft_learning_rate=1e-3", "trainer.params.sft_eval_pairs=2",
                          "trainer.params.sft_eval_steps=3", "curriculum.stages=[{name: dig-1, k_min: 1, "
                          "k_max: 1, count_in_prompt: true, pairs: 12}]"))
    assert "SFT warm start (grounding)" in out and "eval on 2 held-out grounding samples" in out
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["ground"]
    evals = [json.loads(x) for x in (run / "ground" / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [0, 3, 6] and all(e["n"] == 2 for e in evals)
    assert (run / "ground" / "DONE").is_file() and (run / "ground" / "checkpoint" / "config.json").is_file()
    lrs = [json.loads(x)["learning_rate"] for x in (run / "ground" / "train.log").read_text().splitlines()]
    assert lrs[0] == pytest.approx(5e-4) and lrs[1] == lrs[2] == pytest.approx(1e-3) and lrs[5] < lrs[3] < lrs[2]
    # the rows: one image each, a one-box answer that scores 1 against its label
    cfg = load_config(None, [], sections=("task", "reward"))
    vlp = VLProcessor(tiny_qwen3_vl)
    rows = grounding_rows(cfg, data, vlp)
    assert rows and all(len(r.images) == 1 and r.label.k == 1 for r in rows)
    scorer = SampleScorer(cfg)
    task = answer_task(cfg, vlp.coords)
    for r in rows:
        answer = target_answer(task, r)
        assert answer.startswith("[") and not answer.startswith("[[")
        assert scorer.score_sample(answer, r.label.to_json())["f1"] == 1.0


def test_dig_plus_grounding_warm_start_mixes_both_rows_and_scores_the_pairs(tiny_qwen3_vl, tmp_path):
    """sft_task=dig+grounding: the pool holds every pair and its grounding samples (what the batches
    are drawn from), and the held-out eval scores DiG answers to pairs, not grounding answers;
    sft_grounding_images=pair shows each grounding sample with its pair's I_a and I_b."""
    from dig_core.config import load_config
    from dig_core.training import resolve_trainer
    from dig_train_trl.data import grounding_rows, load_rows

    data = write_dig_dataset(tmp_path / "g", size=(64, 48), seed=3, stages=[("dig-1", 1, 1, True, 6)])
    held = write_dig_dataset(tmp_path / "h", size=(64, 48), seed=4, stages=[("dig-1", 1, 1, True, 6)])
    run = tmp_path / "run"
    args = overrides(tiny_qwen3_vl, data, run, "trainer.params.sft_task=dig+grounding",
                     "trainer.params.sft_grounding_images=pair",
                     f"trainer.params.sft_eval_data={held}", "trainer.params.grpo_stages=[]",
                     "trainer.params.sft_max_steps=2", "trainer.params.sft_batch_size=4",
                     "trainer.params.sft_eval_pairs=3", "trainer.params.sft_eval_steps=2",
                     "curriculum.stages=[{name: dig-1, k_min: 1, k_max: 1, count_in_prompt: true, pairs: 6}]")
    out = train(args)
    assert "SFT warm start (dig+grounding)" in out and "eval on 3 held-out pairs" in out
    cfg = load_config(None, args, sections=("task", "reward", "trainer"))
    trainer = resolve_trainer(cfg)
    by_stage = trainer._load_rows(cfg, tiny_qwen3_vl)
    pool = trainer._sft_rows(cfg, str(data), by_stage)
    pairs = [r for r in pool if not r.one_box]
    grounding = [r for r in pool if r.one_box]
    assert len(pairs) == 6 and all(len(r.images) == 2 for r in pairs)
    one = grounding_rows(cfg, data, trainer._vlp)
    assert [r.id for r in grounding] == [r.id for r in one] and grounding
    images = {r.id: r.images for r in pairs}
    for g, o in zip(grounding, one):
        assert g.images == images[g.id.split("/")[0]] and o.images[0] in g.images and len(o.images) == 1
        assert g.text == o.text and g.label == o.label
    evals = [json.loads(x) for x in (run / "sft" / "eval.jsonl").read_text().splitlines()]
    assert [e["n"] for e in evals] == [3, 3]
    held_pairs = trainer._sft_rows(cfg, str(held), load_rows(cfg, held, trainer._vlp), for_eval=True)
    assert len(held_pairs) == 6 and all(len(r.images) == 2 for r in held_pairs)


def test_grpo_stages_choose_the_curriculum_stages(tiny_qwen25_vl, dataset, tmp_path):
    from dig_core.config import load_config
    from dig_core.training import resolve_trainer

    def plan(*more):
        cfg = load_config(None, overrides(tiny_qwen25_vl, dataset, tmp_path / "r", *more), sections=("trainer",))
        return [s.name for s in resolve_trainer(cfg).plan(cfg)]

    assert plan("trainer.params.grpo_stages=[dig-mix]", "trainer.params.sft_max_steps=1") == ["sft", "dig-mix"]
    assert plan() == ["dig-1", "dig-2", "dig-mix"]
    r = CliRunner().invoke(_cli(), ["train", *overrides(tiny_qwen25_vl, dataset, tmp_path / "r",
                                                        "trainer.params.grpo_stages=[dig-3]")])
    assert r.exit_code != 0 and "grpo_stages: unknown stage(s) ['dig-3']" in r.output
    r = CliRunner().invoke(_cli(), ["train", *overrides(tiny_qwen25_vl, dataset, tmp_path / "r",
                                                        "trainer.params.grpo_stages=[]")])
    assert r.exit_code != 0 and "nothing to train" in r.output
    r = CliRunner().invoke(_cli(), ["train", *overrides(tiny_qwen25_vl, dataset, tmp_path / "r",
                                                        "trainer.params.sft_task=detect",
                                                        "trainer.params.sft_grounding_images=both")])
    assert r.exit_code != 0 and "sft_task" in r.output and "'dig+grounding'" in r.output
    assert "sft_grounding_images: 'both' is not allowed; allowed: ['one', 'pair']" in r.output
    r = CliRunner().invoke(_cli(), ["train", *overrides(tiny_qwen25_vl, dataset, tmp_path / "r",
                                                        "trainer.params.sft_max_steps=1",
                                                        f"trainer.params.sft_eval_data={tmp_path / 'none'}")])
    assert r.exit_code != 0 and "sft_eval_data=" in r.output and "dataset folder not found" in r.output
    assert not (tmp_path / "r").exists()


def test_lr_factor_schedules():
    from dig_train_trl.sft import lr_factor

    assert [lr_factor("constant", i, 10, 2) for i in (0, 1, 2, 9)] == [0.5, 1.0, 1.0, 1.0]
    assert [round(lr_factor("cosine", i, 10, 2), 3) for i in (2, 6, 10)] == [1.0, 0.5, 0.0]
    assert [round(lr_factor("linear", i, 10, 0), 3) for i in (0, 5, 10)] == [1.0, 0.5, 0.0]


def _grpo_stage(model, data, run, *more, stage=0):
    """The GRPOTrainer `dig train` builds for curriculum stage ``stage`` (nothing trained)."""
    from dig_core.config import load_config
    from dig_core.training import TRAIN_SECTIONS, resolve_trainer

    cfg = load_config(None, overrides(model, data, run, "trainer.params.report_to=[]", *more), sections=TRAIN_SECTIONS)
    trainer = resolve_trainer(cfg)
    trainer.progress = False
    plan = trainer.plan(cfg)
    trainer._load_rows(cfg, plan[stage].init_model)
    return trainer.grpo_stage(cfg, RunDir(run), plan[stage])


def test_constant_schedule_with_warmup_warms_up(tiny_qwen25_vl, dataset, tmp_path):
    """lr_scheduler_type=constant (the default) with warmup_ratio: TRL gets constant_with_warmup, and
    the scheduler it builds ramps the learning rate up (transformers' constant would ignore it)."""
    g = _grpo_stage(tiny_qwen25_vl, dataset, tmp_path / "run", "trainer.params.warmup_ratio=0.5",
                    "trainer.params.max_steps=4", "trainer.params.learning_rate=1e-3")
    try:
        assert g.trainer.args.lr_scheduler_type == "constant_with_warmup"
        g.trainer.create_optimizer_and_scheduler(num_training_steps=4)
        lrs = []
        for _ in range(4):
            lrs.append(g.trainer.lr_scheduler.get_last_lr()[0])
            g.trainer.optimizer.step()
            g.trainer.lr_scheduler.step()
        assert lrs == pytest.approx([0.0, 5e-4, 1e-3, 1e-3])
    finally:
        g.close()


def test_reward_of_a_thinking_model_counts_only_after_the_thought(tiny_qwen3_vl, dataset, tmp_path):
    """A model whose template opens <think> in the generation prompt (Qwen3-VL-Thinking): the GRPO
    reward gives a completion cut off inside its reasoning format 0, numbers or not."""
    from dig_core.models.vlm import VLProcessor
    from dig_train_trl.data import answer_task, load_rows, target_answer

    model = thinking_copy(tiny_qwen3_vl, tmp_path / "thinking")
    g = _grpo_stage(model, dataset, tmp_path / "run")
    try:
        assert g.vlp.prompt_opens_think and g.reward.scorer.task.config.prompt_opens_think
        from dig_train_trl.trainer import THINKING_NEW_TOKENS, thinking_budget_note

        assert "cuts most thoughts off" in thinking_budget_note(g.vlp, 256)
        assert thinking_budget_note(g.vlp, THINKING_NEW_TOKENS) is None
        row = g.trainer.train_dataset[0]
        from dig_core.config import load_config

        cfg = load_config(None, _stage_overrides(), sections=("task",))
        vlp = VLProcessor(model)
        r = next(x for rs in load_rows(cfg, dataset, vlp).values() for x in rs if x.id == row["id"])
        answer = target_answer(answer_task(cfg, vlp.coords), r)
        rewards = g.reward(completions=[f"I think it is {answer} but", f"It is {answer}.</think>\n{answer}"],
                           label=[row["label"]] * 2)
        assert rewards[0] == 0.0 and rewards[1] > 0.9, rewards
        # the warm start's target closes the thought the prompt opened, then answers
        from dig_train_trl.sft import _batch

        enc = _batch(vlp.processor, [r], [answer], "cpu")
        taught = vlp.tokenizer.decode(enc["labels"][0][enc["labels"][0] != -100])
        assert taught.startswith("\n</think>\n\n" + answer), taught
        assert g.reward(completions=[taught], label=[row["label"]])[0] > 0.9
    finally:
        g.close()


def test_warm_start_on_a_disjoint_split(tiny_qwen25_vl, dataset, tmp_path):
    """sft_data: the warm start supervises the pairs of another dataset folder (e.g. another seed),
    not the ones GRPO then trains on; a missing folder fails before anything runs."""
    split = write_dig_dataset(tmp_path / "sft-split", size=(64, 48), seed=7, stages=[("dig-1", 1, 1, True, 5)])
    run = tmp_path / "run"
    out = train(overrides(tiny_qwen25_vl, dataset, run, f"trainer.params.sft_data={split}",
                          "trainer.params.sft_stages=[dig-1]", "trainer.params.sft_max_steps=1",
                          "trainer.params.sft_eval_pairs=1", "trainer.params.grpo_stages=[]"))
    # the split's 5 pairs, not the 2 dig-1 pairs of trainer.params.data
    assert "SFT warm start (dig), 1 steps on 5 pairs" in out, out
    r = CliRunner().invoke(_cli(), ["train", *overrides(tiny_qwen25_vl, dataset, tmp_path / "r2",
                                                        "trainer.params.sft_max_steps=1",
                                                        f"trainer.params.sft_data={tmp_path / 'none'}")])
    assert r.exit_code == 2 and "trainer.params.sft_data=" in r.output and "dataset folder not found" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "r2").exists()


def test_resume_with_num_iterations_keeps_whole_generations(tiny_qwen25_vl, dataset, tmp_path):
    """num_iterations μ = 2: TRL generates at steps 0, 2, … and again at the first step after a
    resume. Resumed from step 1, the generation of step 0 (it trained step 0) stays in rewards.jsonl
    as it was, and the resumed steps log the new one: whole groups, nothing cut in half."""
    import shutil

    run = tmp_path / "run"
    args = overrides(tiny_qwen25_vl, dataset, run, "trainer.params.num_iterations=2", "trainer.params.max_steps=3",
                     "trainer.params.save_steps=1", "trainer.params.save_total_limit=3",
                     "trainer.params.keep_trl_checkpoints=true", "trainer.params.grpo_stages=[dig-1]")
    train(args)
    rewards = run / "dig-1" / "rewards.jsonl"
    first = rewards.read_text().splitlines()
    assert len(first) == 2 * G  # generations at steps 0 and 2
    (run / "dig-1" / "DONE").unlink()
    shutil.rmtree(run / "dig-1" / "checkpoint")
    for step in (2, 3):
        shutil.rmtree(run / "dig-1" / "trl" / f"checkpoint-{step}")
    out = train(args)
    assert "checkpoint-1 (step 1)" in out
    again = rewards.read_text().splitlines()
    assert again[:G] == first[:G]  # step 0's generation kept as logged
    assert len(again) == 2 * G  # ⌈1/2⌉ generation kept + the one generated on resuming (steps 1, 2)
    assert RunDir(run).read_done("dig-1")["step"] == 3
