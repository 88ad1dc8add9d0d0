"""Every flag the launcher emits exists in the installed OpenRLHF's ``train_ppo_ray`` parser and its
values parse there and pass OpenRLHF's own post-parse checks, for every shipped config.

The parser is OpenRLHF's: ``dig_train_openrlhf.flags`` reads the ``__main__`` block of the
installed ``openrlhf/cli/train_ppo_ray.py`` with ``ast`` and runs its ``add_argument`` statements
(the module itself imports vLLM and Ray, which a CPU machine lacks)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from dig_core.config import load_config
from dig_core.errors import ConfigError

pytest.importorskip("dig_train_openrlhf")
flags = pytest.importorskip("dig_train_openrlhf.flags")
if flags.openrlhf_root() is None:
    pytest.skip("OpenRLHF is not installed (pip install --no-deps openrlhf==0.11.2)", allow_module_level=True)

from dig_core.training import (  # noqa: E402
    TRAIN_SECTIONS,
    report_integrations,  # noqa: E402
    resolve_trainer,
)
from dig_train_openrlhf.config import LOSS_AGG_MODES, LR_SCHEDULERS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))

# launcher settings beyond the presets, so that every optional flag is emitted at least once
VARIANTS = {
    "preset": [],
    "plateau, no colocation, beta 0 first": [
        "trainer.params.colocate_all=false", "trainer.params.vllm_num_engines=2",
        "trainer.params.first_stage_kl_coef=0", "trainer.params.freeze_visual_encoder=true",
        "trainer.params.gradient_checkpointing=false", "trainer.params.save_hf=false",
        "trainer.params.ray_address=auto", "trainer.params.seed=7", "trainer.params.report_to=[]",
    ],
    "fraction of an epoch, per-stage overrides, extra args": [
        "curriculum.advance.params.epochs=0.5", "trainer.params.param_dtype=fp16", "trainer.params.zero_stage=2",
        "trainer.params.gpus_per_node=4", "trainer.params.vllm_tensor_parallel_size=2",
        "trainer.params.attn_implementation=sdpa", "trainer.params.kl_estimator=k2",
        "trainer.params.extra_args=[--logger.wandb.project, dig, --rollout.vllm_generate_batch_size, 16]",
        "trainer.params.report_to=[tensorboard, wandb]",
    ],
}


#: the advance rule of a variant (replacing the preset's, params included)
ADVANCE = {"plateau, no colocation, beta 0 first": {"name": "plateau", "params": {"window": 10, "max_epochs": 2}}}


def trainer_and_plan(config: Path | None, overrides: list[str], tmp_path: Path, advance: dict | None = None):
    ov = ["trainer.name=openrlhf", f"trainer.params.run_dir={tmp_path / 'run'}", *overrides]
    cfg = load_config(config, ov, sections=TRAIN_SECTIONS)
    if advance is not None:
        cfg.curriculum.advance.name = advance["name"]
        cfg.curriculum.advance.params = advance["params"]
    trainer = resolve_trainer(cfg)  # trainer.name set: dig-train-trl may be installed too
    return cfg, trainer, trainer.plan(cfg)


def test_parser_is_rebuilt_from_the_installed_source():
    path = flags.train_ppo_ray_source()
    assert path.name == "train_ppo_ray.py" and path.parent.parent == flags.openrlhf_root()
    parser = flags.build_parser()
    opts = flags.option_strings(parser)
    # every add_argument call of the __main__ block (the loop over actor/critic counts twice)
    tree = ast.parse(path.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "add_argument"]
    assert len(opts) >= len(calls) > 100
    assert {"--rollout.n_samples_per_prompt", "--algo.kl.init_coef", "--reward.remote_url", "--ckpt.save_hf",
            "--actor.freeze_visual_encoder", "--train.colocate_all", "--vllm.num_engines", "--data.image_key",
            "--actor.adam.lr", "--critic.adam.lr"} <= opts


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("config", [None, *CONFIGS], ids=lambda c: "default" if c is None else c.name)
def test_every_emitted_flag_exists_and_parses(config, variant, tmp_path):
    cfg, trainer, plan = trainer_and_plan(config, VARIANTS[variant], tmp_path, ADVANCE.get(variant))
    parser = flags.build_parser()
    known = flags.option_strings(parser)
    p = trainer.config
    assert len(plan) == len(cfg.curriculum.stages) >= 1
    for stage in plan:
        command = trainer.command(cfg, stage)
        head = len(command) - len([a for g in trainer_flags(trainer, cfg, stage) for a in g])
        argv = command[head:]
        emitted = [a for a in argv if a.startswith("--")]
        assert emitted and set(emitted) <= known, sorted(set(emitted) - known)
        parser.parse_args(argv)  # types and choices
        args = flags.check_args(argv)  # OpenRLHF's own post-parse checks too
        assert args.actor.model_name_or_path == stage.init_model
        assert args.rollout.n_samples_per_prompt == p.n_samples_per_prompt
        assert args.data.max_images_per_prompt == 2 and args.data.apply_chat_template
        assert args.reward.remote_url == [str(trainer.files(stage).reward_file)]
        assert args.ckpt.output_dir == str(stage.paths.checkpoint)
        assert args.ckpt.save_hf == p.save_hf
        assert args.critic.model_name_or_path is None  # no critic: OpenRLHF's VLM requirement
        assert args.train.colocate_all == p.colocate_all
        assert args.actor.freeze_visual_encoder == p.freeze_visual_encoder
        beta = args.algo.kl.init_coef
        if stage.index == 0 and p.first_stage_kl_coef is not None:
            assert beta == p.first_stage_kl_coef
        else:
            assert beta == p.kl_coef
        assert args.algo.kl.use_loss == (beta > 0)
        if beta > 0:
            assert args.algo.kl.estimator == p.kl_estimator
        assert args.train.seed == (p.seed if p.seed is not None else cfg.seed)
        assert (args.actor.lr_scheduler, args.actor.loss_agg_mode) == (p.lr_scheduler, p.loss_agg_mode)
        loggers = report_integrations(p.report_to)
        assert args.logger.tensorboard_dir == (str(stage.paths.tensorboard) if "tensorboard" in loggers else None)
        assert bool(args.logger.wandb.key) == ("wandb" in loggers)  # OpenRLHF's switch for W&B
        if loggers:
            assert args.logger.wandb.run_name == f"run-{stage.name}"


def trainer_flags(trainer, cfg, stage):
    from dig_train_openrlhf.launcher import build_flags

    return build_flags(cfg, trainer.config, stage, trainer.files(stage))


def test_paper_preset_kl_is_relaxed_in_the_first_stage_only(tmp_path):
    cfg, trainer, plan = trainer_and_plan(ROOT / "configs" / "paper.yaml", [], tmp_path)
    betas = [flags.check_args(trainer.command(cfg, s)[3:]).algo.kl.init_coef for s in plan]
    assert betas[0] < betas[1] == betas[2] and betas[0] > 0
    assert [s.name for s in plan] == ["dig-1", "dig-2", "dig-mix"]


def test_paper_preset_trains_at_a_constant_lr_with_the_papers_loss(tmp_path):
    """OpenRLHF's defaults (cosine_with_min_lr, token-mean) are not what the paper and docs say: the
    preset's command overrides both."""
    parser = flags.build_parser()
    defaults = vars(parser.parse_args([]))
    assert (defaults["actor.lr_scheduler"], defaults["actor.loss_agg_mode"]) == ("cosine_with_min_lr", "token-mean")
    cfg, trainer, plan = trainer_and_plan(ROOT / "configs" / "paper.yaml", [], tmp_path)
    for stage in plan:
        args = flags.check_args(trainer.command(cfg, stage)[3:])
        assert (args.actor.lr_scheduler, args.actor.loss_agg_mode) == ("constant_with_warmup", "seq-mean-token-mean")
    choices = next(a.choices for a in parser._actions if "--actor.loss_agg_mode" in a.option_strings)
    assert set(choices) == set(LOSS_AGG_MODES)  # every mode OpenRLHF has, and no other


def test_every_allowed_lr_scheduler_is_one_openrlhf_can_build():
    """OpenRLHF hands --actor.lr_scheduler to transformers' get_scheduler with warmup and total steps
    (plus min_lr_rate for the *_with_min_lr ones); constant_with_warmup holds the lr after warmup."""
    torch = pytest.importorskip("torch")
    from transformers import get_scheduler

    for name in LR_SCHEDULERS:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-6)
        extra = {"scheduler_specific_kwargs": {"min_lr_rate": 0.1}} if name.endswith("_with_min_lr") else {}
        sched = get_scheduler(name, opt, num_warmup_steps=2, num_training_steps=50, **extra)
        lrs = []
        for _ in range(50):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        if name == "constant_with_warmup":
            assert lrs[:2] == [0.0, 5e-7] and set(lrs[2:]) == {1e-6}
        elif name != "constant":
            assert lrs[-1] < 1e-6  # the decaying ones do decay


def test_per_stage_overrides_reach_the_command(tmp_path):
    cfg, trainer, plan = trainer_and_plan(None, ["trainer.params.stages.dig-mix.temperature=0.7",
                                                 "trainer.params.stages.dig-2.kl_coef=0.05",
                                                 "trainer.params.stages.dig-2.actor_lr=2e-6"], tmp_path)
    args = [flags.check_args(trainer.command(cfg, s)[3:]) for s in plan]
    assert [a.rollout.temperature for a in args] == [1.0, 1.0, 0.7]
    assert [a.algo.kl.init_coef for a in args] == [0.001, 0.05, 0.01]
    assert [a.actor.adam.lr for a in args] == [1e-6, 2e-6, 1e-6]


def test_openrlhf_rejects_what_it_does_not_know():
    with pytest.raises(ConfigError, match="unrecognized arguments: --no.such_flag"):
        flags.check_args(["--no.such_flag", "1"])
    with pytest.raises(ConfigError, match="invalid choice"):
        flags.check_args(["--algo.kl.estimator", "k9"])
    # OpenRLHF's own assertion after parsing (not a copy of it)
    with pytest.raises(ConfigError, match="group_norm requires n_samples_per_prompt > 1"):
        flags.check_args(["--algo.advantage.estimator", "group_norm"])


def test_bad_extra_args_fail_the_dry_run(tmp_path):
    cfg, trainer, plan = trainer_and_plan(None, ["trainer.params.extra_args=[--not.a_flag]"], tmp_path)
    with pytest.raises(ConfigError, match="not.a_flag"):
        trainer.describe_stage(cfg, plan[0])


def test_gpu_extra_pins_agree_with_openrlhf():
    """dig-train-openrlhf[gpu] pins what the installed OpenRLHF (and its [vllm] extra) pins."""
    import importlib.metadata as md
    import re
    import tomllib

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((ROOT / "packages" / "dig-train-openrlhf" / "pyproject.toml").read_text())
    ours = {Requirement(r).name: Requirement(r) for r in pyproject["project"]["optional-dependencies"]["gpu"]}
    assert str(ours["openrlhf"].specifier) == f"=={md.version('openrlhf')}"
    pinned = {}
    for raw in md.requires("openrlhf") or []:
        req = Requirement(raw)
        if req.marker is None or re.search(r'extra == "vllm"', str(req.marker)):
            if any(s.operator == "==" for s in req.specifier):
                pinned[req.name] = req.specifier
    assert {"transformers", "ray", "deepspeed", "flash-attn", "vllm"} <= set(pinned)
    for name, spec in pinned.items():
        assert name in ours and ours[name].specifier == spec, (name, spec)
    assert "default" in ours["ray"].extras


def test_report_to_reaches_openrlhfs_own_loggers(tmp_path):
    """report_to=[tensorboard, wandb]: OpenRLHF's parsed args turn on both of its loggers; its own
    TensorboardLogger (loaded from the installed file) writes inside the stage folder, read back with
    TensorBoard's event reader. The W&B key stays out of the command."""
    import importlib.util
    import os

    cfg, trainer, plan = trainer_and_plan(None, ["trainer.params.report_to=[tensorboard, wandb]"], tmp_path)
    stage = plan[1]
    command = trainer.command(cfg, stage)
    args = flags.check_args(command[3:])
    assert args.logger.wandb.key == "from-env-WANDB_API_KEY" and args.logger.wandb.group == "run"
    assert args.logger.wandb.run_name == "run-dig-2"
    assert args.logger.tensorboard_dir == str(tmp_path / "run" / "dig-2" / "tensorboard")
    pytest.importorskip("torch")
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = importlib.util.spec_from_file_location("_openrlhf_logging_utils",
                                                  flags.openrlhf_root() / "utils" / "logging_utils.py")
    logging_utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(logging_utils)
    tb = logging_utils.TensorboardLogger(args)  # what OpenRLHF's PPO trainer builds from these args
    for step in (1, 2):
        tb.log_train(step, {"reward": 0.25 * step, "policy_loss": None})
    tb.close()
    folder = tmp_path / "run" / "dig-2" / "tensorboard" / "run-dig-2"
    acc = EventAccumulator(str(folder))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("train/reward")] == [(1, 0.25), (2, 0.5)]
    assert os.listdir(tmp_path / "run" / "dig-2" / "tensorboard") == ["run-dig-2"]


def test_wandb_without_credentials_fails_before_export(tmp_path, monkeypatch):
    import importlib.util

    from dig_core.training import RunDir

    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    real = importlib.util.find_spec  # wandb "installed" whether it is or not
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "wandb" else real(name, *a))
    cfg, trainer, plan = trainer_and_plan(None, ["trainer.params.report_to=[wandb]",
                                                 f"trainer.params.data={tmp_path}"], tmp_path)
    with pytest.raises(ConfigError, match=r"WANDB_API_KEY .* or WANDB_MODE=offline"):
        trainer.prepare(cfg, RunDir(tmp_path / "run"), plan, print)
    assert not (tmp_path / "run" / "data").exists()
