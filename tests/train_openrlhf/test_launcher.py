"""``dig train`` with the ``openrlhf`` trainer: dry runs, stage chaining, resume, trainer selection,
the live advance-rule watcher and the process runner.

The runs here use a stand-in for ``python -m openrlhf.cli.train_ppo_ray`` (:data:`FAKE_TRAINER`, via
``trainer.params.entrypoint``): a small script that parses its arguments with OpenRLHF's own parser
and checks, loads its starting model as OpenRLHF does (``AutoProcessor`` first, as its vLLM engines;
the tokenizer from OpenRLHF's own ``get_tokenizer``), scores answers through the real
``--reward.remote_url`` file (so ``rewards.jsonl`` is written by the real reward module), writes
DeepSpeed-like states (``_actor/global_step<N>``, ``_actor/latest``; resumed from with
``--ckpt.load_enable``) and HF checkpoints the way OpenRLHF's save path does (weights, config,
that tokenizer: no processor files) every ``--ckpt.save_steps``, and the final model to
``--ckpt.output_dir``. What is under test is our
launcher, watcher and stage loop, not OpenRLHF's training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from dig_core.cli import DigGroup
from dig_core.config import load_config
from dig_core.curriculum import PlateauAdvance, PlateauConfig
from dig_core.errors import ConfigError, DigError, PluginError
from dig_core.plugins.manager import PluginManager
from dig_core.training import RunDir, Trainer, plan_stages

pytest.importorskip("dig_train_openrlhf")
from dig_core.training import TRAIN_SECTIONS, resolve_trainer  # noqa: E402
from dig_train_openrlhf import plugin as openrlhf_plugin  # noqa: E402
from dig_train_openrlhf.checkpoints import save_processor  # noqa: E402
from dig_train_openrlhf.flags import openrlhf_root  # noqa: E402
from dig_train_openrlhf.launcher import run_process  # noqa: E402
from dig_train_openrlhf.trainer import OpenRLHFTrainer  # noqa: E402
from dig_train_openrlhf.watcher import AdvanceWatcher, checkpoint_complete, weights_complete  # noqa: E402

from tests.helpers import write_dig_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dig-1", "dig-2", "dig-mix")


def dig(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    if args and args[0] == "train" and not any(a.startswith("trainer.name=") for a in args) \
            and "DIG_PLUGINS" not in (env or {}):
        args = (*args, "trainer.name=openrlhf")  # other trainers (dig-train-trl) may be installed too
    return subprocess.run([sys.executable, "-m", "dig_core", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def stage_blocks(out: str) -> list[str]:
    """The dry run's per-stage blocks (each starts with '# stage i/n')."""
    blocks = out.split("# stage ")[1:]
    return ["# stage " + b for b in blocks]


def model_of(block: str) -> str:
    line = next(ln for ln in block.splitlines() if "--actor.model_name_or_path" in ln)
    return line.split("--actor.model_name_or_path", 1)[1].split()[0]


# -- dry runs -------------------------------------------------------------------------------------------
def test_dry_run_default_config_prints_three_chained_stages(tmp_path):
    r = dig("train", "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    blocks = stage_blocks(r.stdout)
    assert [b.split()[3] for b in blocks] == list(STAGES)
    run = tmp_path / "runs" / "dig-openrlhf"
    assert model_of(blocks[0]) == "Qwen/Qwen3-VL-8B-Thinking"
    assert model_of(blocks[1]) == str(run / "dig-1" / "checkpoint")
    assert model_of(blocks[2]) == str(run / "dig-2" / "checkpoint")
    for name, block in zip(STAGES, blocks):
        assert "-m openrlhf.cli.train_ppo_ray" in block
        assert f"--data.prompt_dataset {run / 'data' / (name + '.jsonl')}" in block
        assert f"--ckpt.output_dir {run / name / 'checkpoint'}" in block
        assert f"--reward.remote_url {run / name / 'reward.py'}" in block
    assert not run.exists()  # a dry run writes nothing


BLOCKER = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"torch", "transformers", "torchvision", "openrlhf", "vllm", "ray", "bpy"}:
                raise ImportError(f"{name} is blocked in this test")
    sys.meta_path.insert(0, Block())
    from dig_core.cli import main
    main(sys.argv[1:])
""")


def test_dry_run_needs_neither_torch_nor_openrlhf_nor_a_dataset(tmp_path):
    """Only dig-core + dig-train-openrlhf: what `pip install dig-train-openrlhf` gives a CPU machine."""
    r = subprocess.run([sys.executable, "-c", BLOCKER, "train", "--dry-run", "trainer.name=openrlhf"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(stage_blocks(r.stdout)) == 3
    assert "flags not checked: OpenRLHF is not installed here" in r.stdout


def done_stage(run: Path, name: str, checkpoint: Path, reason: str = "completed", step=None) -> None:
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text("{}")
    RunDir(run).mark_done(name, checkpoint, reason, step)


def test_resume_starts_at_stage_2_from_stage_1_checkpoint(tmp_path):
    run = tmp_path / "run"
    done_stage(run, "dig-1", run / "dig-1" / "checkpoint")
    r = dig("train", "--dry-run", f"trainer.params.run_dir={run}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"stage dig-1: done (completed), checkpoint {run / 'dig-1' / 'checkpoint'}" in r.stdout
    blocks = stage_blocks(r.stdout)
    assert [b.split()[3] for b in blocks] == ["dig-2", "dig-mix"]
    assert model_of(blocks[0]) == str(run / "dig-1" / "checkpoint")
    # stage 1 stopped early by the advance rule: stage 2 starts from the checkpoint its DONE names
    (run / "dig-1" / "DONE").unlink()
    early = run / "dig-1" / "ckpt" / "global_step40_hf"
    done_stage(run, "dig-1", early, "advanced", 40)
    r = dig("train", "--dry-run", f"trainer.params.run_dir={run}", cwd=tmp_path)
    assert model_of(stage_blocks(r.stdout)[0]) == str(early)
    assert json.loads((run / "dig-1" / "DONE").read_text())["checkpoint"] == "dig-1/ckpt/global_step40_hf"
    # every stage done: nothing to run
    for name in ("dig-2", "dig-mix"):
        done_stage(run, name, run / name / "checkpoint")
    r = dig("train", "--dry-run", f"trainer.params.run_dir={run}", cwd=tmp_path)
    assert r.returncode == 0 and "all 3 stages are done" in r.stdout and not stage_blocks(r.stdout)


def test_corrupt_done_marker_is_a_clear_error(tmp_path):
    (tmp_path / "run" / "dig-1").mkdir(parents=True)
    (tmp_path / "run" / "dig-1" / "DONE").write_text("{not json")
    r = dig("train", "--dry-run", f"trainer.params.run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert r.returncode != 0 and "corrupt DONE marker" in r.stderr and "Traceback" not in r.stderr


def test_plan_chains_any_stage_list(tmp_path):
    cfg = load_config(sections=("curriculum.advance",))
    plan = plan_stages(list(cfg.curriculum.stages), RunDir(tmp_path), "base")
    assert [s.init_model for s in plan] == ["base", str(tmp_path / "dig-1" / "checkpoint"),
                                            str(tmp_path / "dig-2" / "checkpoint")]


# -- trainer selection -------------------------------------------------------------------------------------
class OtherTrainer(Trainer):
    PLUGIN_NAME = "other-test"


class OtherPlugin:
    from dig_core import hookimpl

    @staticmethod
    @hookimpl
    def register_trainers():
        return [OtherTrainer]


def test_trainer_auto_selection():
    pm = PluginManager(load_entry_points=False)  # only what the test registers
    cfg = load_config(sections=("curriculum.advance",))
    with pytest.raises(PluginError, match=r"no trainer installed: `pip install dig-train-trl`.*`pip install dig-train-openrlhf`"):
        resolve_trainer(cfg, pm)
    pm.register(openrlhf_plugin, "openrlhf")
    trainer = resolve_trainer(cfg, pm)
    assert isinstance(trainer, OpenRLHFTrainer) and cfg.trainer.name == "openrlhf"
    pm.register(OtherPlugin(), "other")
    cfg = load_config(sections=("curriculum.advance",))
    with pytest.raises(ConfigError, match="several trainers are installed: openrlhf, other-test"):
        resolve_trainer(cfg, pm)
    cfg.trainer.name = "other-test"
    assert isinstance(resolve_trainer(cfg, pm), OtherTrainer)


def test_cli_without_any_trainer_names_the_package(tmp_path):
    core = "core-commands,core-tasks,core-rewards,core-curriculum,core-perturbations,core-executors"
    r = dig("train", "--dry-run", cwd=tmp_path, env={"DIG_PLUGINS": core})
    assert r.returncode != 0 and "pip install dig-train-openrlhf" in r.stderr and "Traceback" not in r.stderr
    r = dig("train", "--dry-run", "trainer.name=openrlhf", cwd=tmp_path, env={"DIG_PLUGINS": core})
    assert r.returncode == 2 and "comes with `pip install dig-train-openrlhf`" in r.stderr


@pytest.mark.parametrize("override, message", [
    ("trainer.params.vllm_num_engines=3", "colocate_all needs vllm_num_engines * vllm_tensor_parallel_size"),
    ("trainer.params.n_samples_per_prompt=1", "must be >= 2 for group_norm"),
    ("trainer.params.kl_estimator=k7", "kl_estimator: unknown 'k7'; allowed: ['k1', 'k2', 'k3']"),
    ("trainer.params.max_new_tokens=9000", "max_new_tokens (9000) must be < max_len (8192)"),
    ("trainer.params.train_batch_size=1000", "train_batch_size (1000) must be <= rollout_batch_size"),
    ("trainer.params.stages.dig-9.kl_coef=0", "no curriculum stage named 'dig-9'"),
    ("curriculum.advance.params.epochs=1.5", "use a whole number, or a fraction below 1"),
    ("trainer.params.lr_scheduler=cosine_decay", "lr_scheduler: 'cosine_decay' is not allowed; allowed: "
     "['constant_with_warmup', 'constant', 'linear', 'cosine', 'cosine_with_min_lr']"),
    ("trainer.params.loss_agg_mode=seq-mean", "loss_agg_mode: 'seq-mean' is not allowed; allowed: "
     "['seq-mean-token-mean', 'token-mean']"),
])
def test_bad_settings_are_clear_errors(tmp_path, override, message):
    r = dig("train", "--dry-run", override, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


# -- the watcher ---------------------------------------------------------------------------------------------
def write_checkpoint(path: Path, complete: bool = True) -> None:
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"0" * 16)
    if complete:
        (path / "config.json").write_text("{}")
        (path / "tokenizer_config.json").write_text("{}")


def append_rewards(path: Path, ids: list[str], acc: float, g: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        for pid in ids:
            for _ in range(g):
                f.write(json.dumps({"id": pid, "stage": "dig-1", "f1": acc, "miou": acc, "format": 1.0,
                                    "reward": acc, "accuracy": acc}) + "\n")


def test_watcher_fires_on_plateau_and_stops_at_the_next_complete_checkpoint(tmp_path, tiny_qwen25_vl):
    cfg = load_config(sections=())
    stage = cfg.curriculum.stages[0]
    rule = PlateauAdvance(PlateauConfig(window=2, patience=1, min_delta=0.01))
    rewards, ckpt = tmp_path / "dig-1" / "rewards.jsonl", tmp_path / "dig-1" / "ckpt"
    now = [0.0]
    finalized: list[Path] = []

    def finalize(path: Path) -> None:  # the trainer's: the stage's starting processor into the folder
        finalized.append(path)
        save_processor(tiny_qwen25_vl, path)

    w = AdvanceWatcher(stage, rule, rewards, ckpt, group_size=2, settle_s=5,
                       clock=lambda: now[0], finalize=finalize)
    assert w.poll() is None  # no log yet
    append_rewards(rewards, ["a", "b"], 0.2, 2)  # window 1: mean 0.2
    write_checkpoint(ckpt / "global_step2_hf")
    assert w.poll() is None and w.presentations == 2 and not w.decided
    with open(rewards, "a") as f:  # window 2 improves; one prompt's group split across polls
        f.write(json.dumps({"id": "c", "f1": 0.6, "miou": 0.6, "accuracy": 0.6}) + "\n")
    assert w.poll() is None and w.presentations == 2
    append_rewards(rewards, ["c"], 0.6, 1)
    append_rewards(rewards, ["d"], 0.6, 2)
    assert w.poll() is None and w.presentations == 4 and not w.decided
    append_rewards(rewards, ["e", "f"], 0.6, 2)  # window 3 does not beat 0.6 + 0.01: plateau
    with open(rewards, "a") as f:
        f.write('{"id": "g", "f1"')  # a line being written
    assert w.poll() is None and w.decided and w.decided_at == 6
    # the checkpoint saved before the decision is not "the next one"
    write_checkpoint(ckpt / "global_step4_hf", complete=False)
    now[0] = 100.0
    assert w.poll() is None  # incomplete (no config / tokenizer yet)
    (ckpt / "global_step4_hf" / "config.json").write_text("{}")
    (ckpt / "global_step4_hf" / "tokenizer_config.json").write_text("{}")
    assert w.poll() is None  # complete, settling
    now[0] = 103.0
    assert w.poll() is None
    (ckpt / "global_step4_hf" / "extra.bin").write_bytes(b"1")  # still being written: settle again
    now[0] = 104.0
    assert w.poll() is None
    assert not finalized
    now[0] = 109.5
    assert w.poll() == ckpt / "global_step4_hf"
    assert finalized == [ckpt / "global_step4_hf"] and checkpoint_complete(ckpt / "global_step4_hf")
    assert not checkpoint_complete(ckpt / "global_step2_hf")  # OpenRLHF's own files only


def test_watcher_never_hands_on_a_checkpoint_without_a_processor(tmp_path):
    cfg = load_config(sections=())
    rule = PlateauAdvance(PlateauConfig(window=1, patience=1, min_delta=0.5))
    rewards, ckpt = tmp_path / "rewards.jsonl", tmp_path / "ckpt"
    now = [0.0]
    w = AdvanceWatcher(cfg.curriculum.stages[0], rule, rewards, ckpt, group_size=1, settle_s=1, clock=lambda: now[0])
    append_rewards(rewards, ["a", "b", "c"], 0.2, 1)
    assert w.poll() is None and w.decided
    write_checkpoint(ckpt / "global_step3_hf")
    for t in (0.0, 5.0, 10.0):
        now[0] = t
        assert w.poll() is None


def test_checkpoint_complete_with_sharded_weights(tmp_path):
    p = tmp_path / "global_step3_hf"
    p.mkdir()
    (p / "config.json").write_text("{}")
    (p / "tokenizer_config.json").write_text("{}")
    (p / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "m-1.safetensors",
                                                                               "b": "m-2.safetensors"}}))
    (p / "m-1.safetensors").write_bytes(b"0")
    assert not checkpoint_complete(p)
    (p / "m-2.safetensors").write_bytes(b"0")
    assert weights_complete(p) and not checkpoint_complete(p)
    (p / "preprocessor_config.json").write_text("{}")
    assert checkpoint_complete(p)


FLAT_CHILD = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    rewards, ckpt, done = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    rewards.parent.mkdir(parents=True, exist_ok=True)
    for step in range(1, 400):
        with open(rewards, "a") as f:
            for g in range(2):
                f.write(json.dumps({"id": f"p{step}", "f1": 0.5, "miou": 0.5, "accuracy": 0.5, "format": 1.0}) + "\\n")
        print(f"step {step}", flush=True)
        if step % 3 == 0:
            out = ckpt / f"global_step{step}_hf"
            out.mkdir(parents=True)
            for name in ("model.safetensors", "config.json", "tokenizer_config.json"):
                (out / name).write_text("{}")
        time.sleep(0.05)
    done.write_text("finished")
""")


def test_run_process_stops_a_plateaued_child_at_its_next_checkpoint(tmp_path, tiny_qwen25_vl):
    child = tmp_path / "child.py"
    child.write_text(FLAT_CHILD)
    rewards, ckpt, finished = tmp_path / "rewards.jsonl", tmp_path / "ckpt", tmp_path / "finished"
    cfg = load_config(sections=())
    rule = PlateauAdvance(PlateauConfig(window=3, patience=1, min_delta=0.01))
    watcher = AdvanceWatcher(cfg.curriculum.stages[0], rule, rewards, ckpt, group_size=2, settle_s=0.2,
                             finalize=lambda path: save_processor(tiny_qwen25_vl, path))
    seen: list[bytes] = []
    log = tmp_path / "train.log"
    start = time.monotonic()
    result = run_process([sys.executable, str(child), str(rewards), str(ckpt), str(finished)], log,
                         watcher=watcher, sink=seen.append, poll_s=0.05, grace_s=5, header="test")
    assert time.monotonic() - start < 15
    assert result.stopped_at is not None and watcher.decided
    step = int(result.stopped_at.name[len("global_step"):-len("_hf")])
    # a checkpoint saved after the decision: the one of the step whose rollouts decided it (written just
    # after them, so the watcher may or may not have seen them first) or a later one
    assert step >= watcher.decided_at and step % 3 == 0
    assert not finished.exists()  # the child was stopped, not finished
    text = log.read_text()
    assert "step 1\n" in text and "stopping at" in text and "exit code" in text
    assert b"step 1\n" in b"".join(seen)


def test_run_process_streams_and_returns_the_exit_code(tmp_path):
    log = tmp_path / "a" / "train.log"
    seen: list[bytes] = []
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.stdout.write('bar\\r'); sys.exit(3)"
    result = run_process([sys.executable, "-c", code], log, sink=seen.append, poll_s=0.05)
    assert result.returncode == 3 and result.stopped_at is None
    both = b"".join(seen)
    assert b"out\n" in both and b"err\n" in both and b"bar\r" in both
    assert "out\n" in log.read_text() and "exit code 3" in log.read_text()
    with pytest.raises(DigError, match="cannot start the training command"):
        run_process([str(tmp_path / "no-such-program")], log)


# -- whole runs with a stand-in for train_ppo_ray ---------------------------------------------------------------
FAKE_TRAINER = textwrap.dedent('''
    """Stand-in for `python -m openrlhf.cli.train_ppo_ray` (see the test module docstring)."""
    import importlib.util, json, os, sys, time
    from pathlib import Path
    from dig_train_openrlhf.flags import check_args

    args = check_args(sys.argv[1:])  # OpenRLHF's own parser and checks
    pretrain = args.actor.model_name_or_path
    print("fake train_ppo_ray: model", pretrain, flush=True)
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from openrlhf.utils.utils import get_tokenizer
    AutoProcessor.from_pretrained(pretrain, trust_remote_code=True)  # what vllm_engine.py does first
    model = AutoModelForImageTextToText.from_pretrained(pretrain)  # the raw HF model inside OpenRLHF's Actor
    tokenizer = get_tokenizer(pretrain, model, "left", None, use_fast=not args.data.disable_fast_tokenizer)

    def save_model(out):  # what DeepspeedStrategy.save_model writes: weights, config.json, tokenizer
        model.save_pretrained(out, state_dict=model.state_dict())
        model.config.to_json_file(os.path.join(out, "config.json"))
        tokenizer.save_pretrained(out)

    spec = importlib.util.spec_from_file_location("dig_reward", args.reward.remote_url[0])
    reward = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reward)
    rows = [json.loads(line) for line in open(args.data.prompt_dataset)][: args.data.max_samples]
    G, B = args.rollout.n_samples_per_prompt, args.rollout.batch_size
    head = "<|im_start|>user\\n<|vision_start|><|image_pad|><|vision_end|>x<|im_end|>\\n<|im_start|>assistant\\n"
    batches = [rows[i:i + B] for _ in range(args.train.num_episodes) for i in range(0, len(rows), B)]
    ds = Path(args.ckpt.path) / "_actor"  # DeepSpeed's layout: <tag>/ states and a `latest` tag file
    step = 0
    if args.ckpt.load_enable and (ds / "latest").is_file():  # OpenRLHF restores step and dataloader
        step = int((ds / "latest").read_text().strip()[len("global_step"):])
        print(f"fake train_ppo_ray: resuming at step {step}", flush=True)
    crash = int(os.environ.get("FAKE_CRASH_AFTER_STEP", "0"))

    def rollout(batch):
        for row in batch:
            for g in range(G):
                out = reward.reward_func([head + "[[1, 2, 30, 40]]<|im_end|>"], [row["prompt"]], [row["label"]])
                assert float(out["rewards"][0]) >= 0

    for batch in batches[step:]:
        rollout(batch)
        step += 1
        print(f"step {step}", flush=True)
        if step % args.ckpt.save_steps == 0:
            (ds / f"global_step{step}").mkdir(parents=True, exist_ok=True)
            (ds / f"global_step{step}" / "mp_rank_00_model_states.pt").write_bytes(b"0" * 64)
            (ds / "latest").write_text(f"global_step{step}")
            if args.ckpt.save_hf:
                save_model(os.path.join(args.ckpt.path, f"global_step{step}_hf"))
        if step == crash:  # killed half-way through the next rollout
            rollout(batches[step][:1])
            print("fake train_ppo_ray: crashed", flush=True)
            sys.exit(1)
        time.sleep(float(os.environ.get("FAKE_STEP_S", "0")))
    save_model(args.ckpt.output_dir)
    print("fake train_ppo_ray: saved", args.ckpt.output_dir, flush=True)
''')


@pytest.fixture
def fake_run(tmp_path, tiny_qwen25_vl):
    """A tiny 3-stage dataset and the overrides of a run with the stand-in trainer."""
    data = write_dig_dataset(tmp_path / "data", stages=[(n, 1, 2, n != "dig-mix", 4) for n in STAGES], size=(96, 64))
    fake = tmp_path / "fake_train_ppo_ray.py"
    fake.write_text(FAKE_TRAINER)
    run = tmp_path / "run"
    overrides = [
        f"trainer.params.model={tiny_qwen25_vl}", f"trainer.params.data={data}", f"trainer.params.run_dir={run}",
        f"trainer.params.entrypoint=[{sys.executable}, {fake}]", "trainer.params.max_len=1024",
        "trainer.params.max_new_tokens=128", "trainer.params.gpus_per_node=1", "trainer.params.n_samples_per_prompt=2",
        "trainer.params.rollout_batch_size=2", "trainer.params.train_batch_size=4", "trainer.params.save_steps=1",
        "curriculum.stages=[{name: dig-1, k_min: 1, k_max: 2, pairs: 4}, {name: dig-2, k_min: 1, k_max: 2, pairs: 4},"
        " {name: dig-mix, k_min: 1, k_max: 2, count_in_prompt: false, pairs: 4}]",
        "trainer.name=openrlhf",  # dig-train-trl may be installed too
    ]
    return run, overrides


def test_dig_train_runs_resumes_and_plots(fake_run, tmp_path):
    run, overrides = fake_run
    cli = DigGroup(commands={})
    from dig_core.cli.commands.plot_cmd import plot_rewards
    from dig_core.cli.commands.train_cmd import train

    cli.add_command(train)
    cli.add_command(plot_rewards)
    r = CliRunner().invoke(cli, ["train", *overrides], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    prev = None
    for name in STAGES:
        stage = run / name
        done = json.loads((stage / "DONE").read_text())
        assert done["reason"] == "completed" and done["checkpoint"] == f"{name}/checkpoint"
        assert (stage / "checkpoint" / "config.json").is_file()
        log = (stage / "train.log").read_text()
        model = log.split("fake train_ppo_ray: model ", 1)[1].split("\n", 1)[0]
        assert model == (overrides[0].split("=", 1)[1] if prev is None else str(run / prev / "checkpoint"))
        assert checkpoint_complete(stage / "checkpoint")  # OpenRLHF's save + the stage's processor
        assert not (stage / "ckpt").exists()  # DeepSpeed states and HF checkpoints deleted after DONE
        records = [json.loads(line) for line in (stage / "rewards.jsonl").read_text().splitlines()]
        assert len(records) == 4 * 2 and {rec["stage"] for rec in records} == {name}  # pairs x G
        assert [rec["step"] for rec in records] == list(range(8))
        assert (run / "data" / f"{name}.jsonl").is_file() and (stage / "reward.py").is_file()
        prev = name
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["stages"] == list(STAGES) and manifest["samples_per_step"] == 4
    # rerun: every stage is done, nothing starts again
    logs = {n: (run / n / "train.log").read_text() for n in STAGES}
    r = CliRunner().invoke(cli, ["train", *overrides], catch_exceptions=False)
    assert r.exit_code == 0 and "all 3 stages are done" in r.output
    assert logs == {n: (run / n / "train.log").read_text() for n in STAGES}
    # an interrupted stage (no DONE) runs again from the previous stage's checkpoint
    (run / "dig-mix" / "DONE").unlink()
    r = CliRunner().invoke(cli, ["train", *overrides], catch_exceptions=False)
    assert r.exit_code == 0 and "stage dig-mix: done (completed)" in r.output, r.output
    assert (run / "dig-1" / "train.log").read_text() == logs["dig-1"]
    # no DeepSpeed states left: OpenRLHF starts the stage over, and so does its reward log
    assert len((run / "dig-mix" / "rewards.jsonl").read_text().splitlines()) == 4 * 2
    # what stage 2 started from loads as a vision-language model
    from transformers import AutoModelForImageTextToText, AutoProcessor

    assert AutoProcessor.from_pretrained(run / "dig-1" / "checkpoint").image_processor is not None
    AutoModelForImageTextToText.from_pretrained(run / "dig-1" / "checkpoint")
    r = CliRunner().invoke(cli, ["plot-rewards", str(run), "--out", str(tmp_path / "curve.png")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plateau_ends_a_stage_early_and_the_next_starts_from_that_checkpoint(fake_run, monkeypatch):
    run, overrides = fake_run
    monkeypatch.setenv("FAKE_STEP_S", "0.3")
    cfg = load_config(None, [*overrides, "trainer.params.plateau_max_episodes=4",
                             "curriculum.stages=[{name: dig-1, pairs: 4}, {name: dig-2, pairs: 4}]"],
                      sections=TRAIN_SECTIONS)
    cfg.curriculum.advance.name = "plateau"
    cfg.curriculum.advance.params = {"window": 2, "patience": 1, "min_delta": 0.01}
    trainer = resolve_trainer(cfg)
    trainer.settle_s, trainer.poll_s, trainer.grace_s = 0.2, 0.05, 5.0
    out: list[str] = []
    trainer.train(cfg, echo=out.append)
    done = json.loads((run / "dig-1" / "DONE").read_text())
    assert done["reason"] == "advanced" and done["checkpoint"].startswith("dig-1/ckpt/global_step")
    assert 1 <= done["step"] < 8  # 4 episodes x 2 steps: stopped before the end
    assert not (run / "dig-1" / "checkpoint").exists()
    log2 = (run / "dig-2" / "train.log").read_text()
    assert f"fake train_ppo_ray: model {run / done['checkpoint']}\n" in log2
    assert "stopping at" in (run / "dig-1" / "train.log").read_text()
    # the checkpoint stopped at got the processor before it was handed on; the rest was deleted after DONE
    assert checkpoint_complete(run / done["checkpoint"])
    assert sorted(p.name for p in (run / "dig-1" / "ckpt").iterdir()) == [Path(done["checkpoint"]).name]


def test_a_crashed_stage_resumes_from_its_checkpoint_and_logs_each_rollout_once(fake_run, monkeypatch, tmp_path):
    """Stage dig-1 (8 pairs, 2 per step, G=2: 4 steps) crashes after step 3, half-way through step 4's
    rollouts; its last checkpoint is step 2. The rerun resumes at step 2 and rewards.jsonl ends with
    each prompt's G samples once, in the order of a run that never crashed."""
    run, overrides = fake_run
    data = write_dig_dataset(tmp_path / "data8", stages=[("dig-1", 1, 2, True, 8)], size=(96, 64))
    overrides = [*overrides, f"trainer.params.data={data}", "trainer.params.save_steps=2",
                 "curriculum.stages=[{name: dig-1, pairs: 8}]"]
    cfg = load_config(None, overrides, sections=TRAIN_SECTIONS)
    trainer = resolve_trainer(cfg)
    monkeypatch.setenv("FAKE_CRASH_AFTER_STEP", "3")
    with pytest.raises(DigError, match="training exited with code 1"):
        trainer.train(cfg, echo=lambda _: None)
    rewards = run / "dig-1" / "rewards.jsonl"
    assert len(rewards.read_text().splitlines()) == 3 * 2 * 2 + 2  # 3 steps + one prompt of the 4th
    assert (run / "dig-1" / "ckpt" / "_actor" / "latest").read_text() == "global_step2"
    monkeypatch.delenv("FAKE_CRASH_AFTER_STEP")
    out: list[str] = []
    resolve_trainer(load_config(None, overrides, sections=TRAIN_SECTIONS)).train(cfg, echo=out.append)
    assert any("resuming at step 2" in line and "cut to its first 8 lines" in line for line in out), out
    assert "fake train_ppo_ray: resuming at step 2" in (run / "dig-1" / "train.log").read_text()
    records = [json.loads(line) for line in rewards.read_text().splitlines()]
    ids = [json.loads(row)["label"] for row in (run / "data" / "dig-1.jsonl").read_text().splitlines()]
    ids = [json.loads(label)["id"] for label in ids]
    assert [rec["id"] for rec in records] == [i for i in ids for _ in range(2)]  # 8 prompts x G, once each
    assert [rec["step"] for rec in records] == list(range(16))


def test_keep_checkpoints_keeps_them_and_makes_them_loadable(fake_run):
    run, overrides = fake_run
    cfg = load_config(None, [*overrides, "trainer.params.keep_checkpoints=true",
                             "curriculum.stages=[{name: dig-1, pairs: 4}]"], sections=TRAIN_SECTIONS)
    trainer = resolve_trainer(cfg)
    assert "keeps " + str(run / "dig-1" / "checkpoint") + " and all of" in trainer.describe_stage(cfg, trainer.plan(cfg)[0])
    trainer.train(cfg, echo=lambda _: None)
    ckpt = run / "dig-1" / "ckpt"
    assert sorted(p.name for p in ckpt.iterdir()) == ["_actor", "global_step1_hf", "global_step2_hf"]
    assert (ckpt / "_actor" / "latest").read_text() == "global_step2"
    assert all(checkpoint_complete(ckpt / f"global_step{n}_hf") for n in (1, 2))


@pytest.mark.parametrize("stages, message", [
    ("[{name: dig-1, pairs: 40}]", "stage dig-1: 40 pairs per pass, not a multiple of "
     "trainer.params.rollout_batch_size=32: the last rollout step of each pass would train on 8 prompts (a partial "
     "optimiser step); allowed: prompts per pass that are a multiple of 32 (e.g. 32 or 64), or a rollout_batch_size "
     "that divides 40 (e.g. 20 or 40)"),
    ("[{name: dig-1, pairs: 64}, {name: dig-2, pairs: 8}]", "stage dig-2: 8 pairs per pass, not a multiple of "
     "trainer.params.rollout_batch_size=32: OpenRLHF would train no step on it"),
])
def test_stages_that_do_not_fill_whole_rollout_steps_are_refused(tmp_path, stages, message):
    args = ("train", f"trainer.params.run_dir={tmp_path / 'run'}", f"curriculum.stages={stages}")
    r = dig(*args, f"trainer.params.data={tmp_path}", cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "run").exists()
    r = dig(*args, "--dry-run", cwd=tmp_path)  # the dry run shows it
    assert r.returncode == 0 and f"# a real run stops here: {message}" in r.stdout


def test_a_fraction_of_an_epoch_is_checked_as_the_prompts_it_trains(tmp_path):
    r = dig("train", "--dry-run", "curriculum.stages=[{name: dig-1, pairs: 100}]", "curriculum.advance.params.epochs=0.5",
            "trainer.params.rollout_batch_size=8", "trainer.params.train_batch_size=64", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert ("stage dig-1: pairs x epochs = 100 x 0.5 gives 50 prompts, not a multiple of "
            "trainer.params.rollout_batch_size=8") in r.stdout
    r = dig("train", "--dry-run", "curriculum.stages=[{name: dig-1, pairs: 96}]", "curriculum.advance.params.epochs=0.5",
            "trainer.params.rollout_batch_size=8", "trainer.params.train_batch_size=64", cwd=tmp_path)
    assert r.returncode == 0 and "not a multiple of" not in r.stdout


def test_a_model_that_is_not_a_local_folder_says_how_to_get_it(tmp_path):
    r = dig("train", "--config", str(ROOT / "configs" / "paper.yaml"), f"trainer.params.run_dir={tmp_path / 'run'}",
            f"trainer.params.data={tmp_path}", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert ("trainer.params.model='Qwen/Qwen3-VL-8B-Thinking' is not a local model folder" in r.stderr
            and "`hf download Qwen/Qwen3-VL-8B-Thinking --local-dir models/Qwen3-VL-8B-Thinking`" in r.stderr
            and "`huggingface-cli download Qwen/Qwen3-VL-8B-Thinking" in r.stderr
            and "then set trainer.params.model=models/Qwen3-VL-8B-Thinking" in r.stderr)
    assert r.stderr.count("not a local model folder") == 1 and not (tmp_path / "run").exists()
    r = dig("export-openrlhf", str(tmp_path), "--out", str(tmp_path / "out"), "trainer.params.model=nowhere/x",
            cwd=tmp_path)
    assert r.returncode == 2 and "`hf download nowhere/x --local-dir models/x`" in r.stderr, r.stderr


def test_real_run_needs_a_dataset(tmp_path):
    r = dig("train", f"trainer.params.run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert r.returncode == 2 and "trainer.params.data is not set" in r.stderr


@pytest.mark.skipif(openrlhf_root() is None, reason="OpenRLHF not installed")
def test_dry_run_checks_flags_against_openrlhf(tmp_path):
    r = dig("train", "--dry-run", cwd=tmp_path)
    assert r.stdout.count("flags checked against OpenRLHF 0.11") == 3


# -- scripts/gpu-smoke.sh: its CPU part ---------------------------------------------------------------------
def test_gpu_smoke_script_parses_and_its_dry_run_works(tmp_path):
    script = ROOT / "scripts" / "gpu-smoke.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    r = subprocess.run(["bash", str(script), "--dry-run"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHON": sys.executable, "WORK": str(tmp_path / "w")})
    assert r.returncode == 0, r.stderr
    blocks = stage_blocks(r.stdout)
    assert len(blocks) == 2  # two stages: the second starts from the first's checkpoint
    assert all("--train.colocate_all" in b and "--actor.num_gpus_per_node 1" in b for b in blocks)
    assert model_of(blocks[0]) == str(tmp_path / "w" / "tiny-qwen2_5_vl")
    assert model_of(blocks[1]) == str(tmp_path / "w" / "run" / "dig-1" / "checkpoint")
    assert "not a multiple of" not in r.stdout  # (the tiny model is built by the real run, not the dry one)
    if openrlhf_root() is not None:
        assert all("flags checked against OpenRLHF" in b for b in blocks)
