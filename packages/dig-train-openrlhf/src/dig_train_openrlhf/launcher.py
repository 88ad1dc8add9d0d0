"""The ``train_ppo_ray`` command of each curriculum stage, and running it.

:func:`build_command` turns the config into the exact argument list of one stage (OpenRLHF 0.11's
dotted flags); :func:`run_process` runs it in its own process group, streams its output to the
console and to ``RUN_DIR/<stage>/train.log``, and — when an :class:`AdvanceWatcher` is given —
stops it at the checkpoint where the advance rule says the stage is done. Stage chaining, resume
and DONE markers are dig-core's (:mod:`dig_core.training`).

Per stage ``RUN_DIR/<stage>/`` holds ``reward.py`` (the ``--reward.remote_url`` file),
``ckpt/`` (``--ckpt.path``: DeepSpeed states for resuming inside the stage and
``global_step<N>_hf`` checkpoints), ``checkpoint/`` (``--ckpt.output_dir``: the final model) and,
with ``report_to`` tensorboard, ``tensorboard/`` (``--logger.tensorboard_dir``).
The prompts are ``RUN_DIR/data/<stage>.jsonl`` (``dig export-openrlhf``'s layout).
"""

from __future__ import annotations

import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dig_core.errors import ConfigError
from dig_core.training import RunDir, StageRun, lr_scheduler_with_warmup, report_integrations
from omegaconf import OmegaConf

from dig_train_openrlhf.config import OpenRLHFConfig, stage_params
from dig_train_openrlhf.export import OPENRLHF_DATA_FLAGS, stage_file
from dig_train_openrlhf.flags import ENTRY_MODULE

DATA_DIR = "data"
REWARD_FILE = "reward.py"
CKPT_DIR = "ckpt"
#: the value of --logger.wandb.key: OpenRLHF enables W&B only when that flag is set, and uses the key
#: only when wandb has none from WANDB_API_KEY / `wandb login` (a real key would be in train.log and
#: in the run's W&B config); offline mode needs none
WANDB_KEY_FROM_ENV = "from-env-WANDB_API_KEY"


@dataclass(frozen=True)
class StageFiles:
    data: Path  # --data.prompt_dataset
    reward_file: Path  # --reward.remote_url
    ckpt_path: Path  # --ckpt.path
    output_dir: Path  # --ckpt.output_dir (the stage's final HF model)


def stage_files(run: RunDir, stage_name: str) -> StageFiles:
    paths = run.stage(stage_name)
    return StageFiles(stage_file(run.root / DATA_DIR, stage_name), paths.dir / REWARD_FILE,
                      paths.dir / CKPT_DIR, paths.checkpoint)


@dataclass(frozen=True)
class StageSettings:
    kl_coef: float
    kl_estimator: str
    actor_lr: float
    temperature: float


def stage_settings(p: OpenRLHFConfig, stage_name: str, index: int) -> StageSettings:
    """The global values, then ``first_stage_kl_coef`` for the first stage, then the stage's
    overrides (``trainer.params.stages.<name>``)."""
    o = stage_params(p, stage_name)

    def pick(name: str):
        v = getattr(o, name)
        if v is None and name == "kl_coef" and index == 0 and p.first_stage_kl_coef is not None:
            v = p.first_stage_kl_coef
        return getattr(p, name) if v is None else v

    return StageSettings(pick("kl_coef"), pick("kl_estimator"), pick("actor_lr"), pick("temperature"))


def check_stage_names(p: OpenRLHFConfig, stages: list[Any]) -> None:
    names = [s.name for s in stages]
    unknown = [k for k in (p.stages or {}) if k not in names]
    if unknown:
        raise ConfigError([f"trainer.params.stages.{k}: no curriculum stage named {k!r}; stages: {names}"
                           for k in unknown])


def advance_rule(cfg: Any) -> tuple[str, dict[str, Any]]:
    ref = cfg.curriculum.advance
    params = OmegaConf.to_container(ref.params, resolve=True) if ref.params is not None else {}
    return str(ref.name), dict(params or {})


def episodes(cfg: Any, p: OpenRLHFConfig, stage: Any) -> tuple[int, int | None]:
    """``(--train.num_episodes, --data.max_samples or None)`` for a stage.

    ``fixed`` runs ``epochs`` passes over the stage's prompts (a fraction < 1: the first
    ``ceil(pairs * epochs)`` prompts once). Any other rule is watched live (:mod:`watcher`) within
    at most ``max_epochs`` passes when its config has one, else ``plateau_max_episodes``."""
    name, params = advance_rule(cfg)
    if name == "fixed":
        e, key = float(params.get("epochs", 1.0)), "curriculum.advance.params.epochs"
    elif params.get("max_epochs") is not None:
        e, key = float(params["max_epochs"]), "curriculum.advance.params.max_epochs"
    else:
        return int(p.plateau_max_episodes), None
    if e < 1:
        return 1, max(1, math.ceil(stage.pairs * e))
    if e != int(e):
        raise ConfigError(f"{key}={e}: OpenRLHF trains whole passes over a stage's prompts; "
                          "use a whole number, or a fraction below 1 (the first pairs * epochs prompts)")
    return int(e), None


def prompts_per_pass(cfg: Any, p: OpenRLHFConfig, stage: Any, rows: int | None = None) -> int:
    """Prompts OpenRLHF draws in one pass over a stage: its ``rows`` (default: the stage's
    ``pairs``), or the first ``--data.max_samples`` of them."""
    n = stage.pairs if rows is None else rows
    max_samples = episodes(cfg, p, stage)[1]
    return n if max_samples is None else min(n, max_samples)


def stage_size_problem(cfg: Any, p: OpenRLHFConfig, stage: Any, rows: int | None = None) -> str | None:
    """Why a stage's prompts per pass do not fill whole rollout steps, or None. OpenRLHF draws
    ``rollout_batch_size`` prompts per step and trains the rest of a pass as one short step (a
    partial gradient-accumulation window); fewer prompts than that train no step at all."""
    b = p.rollout_batch_size
    n = prompts_per_pass(cfg, p, stage, rows)
    if b < 1 or (n >= b and n % b == 0):
        return None
    if rows is not None:
        what = f"its prompt file has {rows} prompts" + (f" ({n} per pass, --data.max_samples)" if n != rows else "")
    elif n != stage.pairs:
        what = f"pairs x epochs = {stage.pairs} x {advance_rule(cfg)[1].get('epochs')} gives {n} prompts"
    else:
        what = f"{stage.pairs} pairs per pass"
    effect = ("OpenRLHF would train no step on it" if n < b else
              f"the last rollout step of each pass would train on {n % b} prompts (a partial optimiser step)")
    multiples = [m for m in (n // b * b, (n // b + 1) * b) if m > 0]
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    near = sorted({max(d for d in divisors if d <= b), min((d for d in divisors if d >= b), default=n)})
    return (f"stage {stage.name}: {what}, not a multiple of trainer.params.rollout_batch_size={b}: {effect}; "
            f"allowed: prompts per pass that are a multiple of {b} (e.g. {' or '.join(map(str, multiples))}), "
            f"or a rollout_batch_size that divides {n} (e.g. {' or '.join(map(str, near))})")


def watched(cfg: Any) -> bool:
    """Whether stages end by the advance rule read live (every rule but ``fixed``)."""
    return advance_rule(cfg)[0] != "fixed"


def entrypoint(p: OpenRLHFConfig) -> list[str]:
    return list(p.entrypoint) if p.entrypoint else [sys.executable, "-m", ENTRY_MODULE]


def build_flags(cfg: Any, p: OpenRLHFConfig, stage: StageRun, files: StageFiles) -> list[list[str]]:
    """The flags of one stage, grouped (one group per printed line)."""
    s = stage_settings(p, stage.name, stage.index)
    n_episodes, max_samples = episodes(cfg, p, stage.stage)
    gpus = p.num_nodes * p.gpus_per_node
    engines = p.vllm_num_engines if p.vllm_num_engines is not None else gpus // p.vllm_tensor_parallel_size
    seed = p.seed if p.seed is not None else int(cfg.seed)
    f: list[list[str]] = [
        ["--actor.model_name_or_path", str(stage.init_model)],
        ["--actor.num_nodes", str(p.num_nodes), "--actor.num_gpus_per_node", str(p.gpus_per_node)],
        ["--ref.num_nodes", str(p.num_nodes), "--ref.num_gpus_per_node", str(p.gpus_per_node)],
        ["--vllm.num_engines", str(engines), "--vllm.tensor_parallel_size", str(p.vllm_tensor_parallel_size),
         "--vllm.gpu_memory_utilization", str(p.vllm_gpu_memory_utilization)],
    ]
    if p.colocate_all:
        f.append(["--train.colocate_all"] + (["--vllm.enable_sleep", "--ds.enable_sleep"] if p.vllm_enable_sleep else []))
    f += [
        ["--data.prompt_dataset", str(files.data)],
        list(OPENRLHF_DATA_FLAGS),  # how the export's rows are read (keys, chat template, 2 images)
        ["--data.max_len", str(p.max_len), "--rollout.max_new_tokens", str(p.max_new_tokens)],
    ]
    if max_samples is not None:
        f.append(["--data.max_samples", str(max_samples)])
    f += [
        ["--reward.remote_url", str(files.reward_file)],
        ["--algo.advantage.estimator", p.advantage_estimator, "--rollout.n_samples_per_prompt",
         str(p.n_samples_per_prompt)],
        ["--rollout.batch_size", str(p.rollout_batch_size), "--train.batch_size", str(p.train_batch_size)],
        ["--train.micro_batch_size", str(p.micro_train_batch_size), "--rollout.micro_batch_size",
         str(p.micro_rollout_batch_size)],
        ["--rollout.temperature", str(s.temperature), "--rollout.top_p", str(p.top_p)],
        ["--actor.adam.lr", str(s.actor_lr), "--actor.lr_scheduler",
         lr_scheduler_with_warmup(p.lr_scheduler, p.lr_warmup_ratio), "--actor.lr_warmup_ratio",
         str(p.lr_warmup_ratio)],
        ["--actor.eps_clip", str(p.eps_clip), "--actor.loss_agg_mode", p.loss_agg_mode],
    ]
    if s.kl_coef > 0:  # KL as a loss term (GRPO, paper eq. 6)
        f.append(["--algo.kl.use_loss", "--algo.kl.estimator", s.kl_estimator, "--algo.kl.init_coef", str(s.kl_coef)])
    else:  # beta = 0: no KL term and no reference model
        f.append(["--algo.kl.init_coef", "0"])
    f.append(["--train.num_episodes", str(n_episodes), "--train.max_epochs", "1"])
    model_flags = ["--ds.zero_stage", str(p.zero_stage), "--ds.param_dtype", p.param_dtype,
                   "--ds.attn_implementation", p.attn_implementation]
    if p.gradient_checkpointing:
        model_flags.append("--actor.gradient_checkpointing_enable")
    if p.freeze_visual_encoder:
        model_flags.append("--actor.freeze_visual_encoder")
    f.append(model_flags)
    ckpt = ["--ckpt.path", str(files.ckpt_path), "--ckpt.output_dir", str(files.output_dir),
            "--ckpt.save_steps", str(p.save_steps), "--ckpt.max_num", str(p.max_ckpt_num), "--ckpt.load_enable"]
    if p.save_hf:
        ckpt.append("--ckpt.save_hf")
    f.append(ckpt)
    f.append(["--train.seed", str(seed)])
    f += logger_flags(p, stage)
    if p.extra_args:
        f.append([str(a) for a in p.extra_args])
    return f


def logger_flags(p: OpenRLHFConfig, stage: StageRun) -> list[list[str]]:
    """OpenRLHF's logger flags for ``report_to``. TensorBoard writes to
    ``<stage>/tensorboard/<run name>/``; the run name ``<run folder>-<stage>`` also names the W&B
    run, grouped by the run folder."""
    integrations = report_integrations(p.report_to)
    if not integrations:
        return []
    group = stage.paths.dir.parent.name
    f = [["--logger.wandb.run_name", f"{group}-{stage.name}"]]
    if "tensorboard" in integrations:
        f.append(["--logger.tensorboard_dir", str(stage.paths.tensorboard)])
    if "wandb" in integrations:
        f.append(["--logger.wandb.key", WANDB_KEY_FROM_ENV, "--logger.wandb.group", group])
    return f


def build_command(cfg: Any, p: OpenRLHFConfig, stage: StageRun, files: StageFiles) -> list[str]:
    """The exact command of one stage: the entrypoint, then the flags."""
    return entrypoint(p) + [a for group in build_flags(cfg, p, stage, files) for a in group]


def command_env(p: OpenRLHFConfig) -> dict[str, str]:
    """Environment the command needs beyond the current one."""
    return {"RAY_ADDRESS": p.ray_address} if p.ray_address else {}


def format_command(cfg: Any, p: OpenRLHFConfig, stage: StageRun, files: StageFiles) -> str:
    """The command as a copy-pasteable shell command, one flag group per line."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in command_env(p).items())
    head = (env + " " if env else "") + shlex.join(entrypoint(p))
    return " \\\n    ".join([head] + [shlex.join(g) for g in build_flags(cfg, p, stage, files)])


# -- running ------------------------------------------------------------------------------------------
@dataclass
class ProcessResult:
    returncode: int | None
    stopped_at: Path | None = None  # the checkpoint the watcher stopped the stage at


def _console_sink(data: bytes) -> None:
    out = sys.stdout
    buf = getattr(out, "buffer", None)
    if buf is not None:
        out.flush()
        buf.write(data)
        buf.flush()
    else:
        out.write(data.decode("utf-8", "replace"))
        out.flush()


def _stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the process group (OpenRLHF's driver and the Ray processes it started), then SIGKILL
    whatever is left after ``grace_s``."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            # the leader is gone; give its group the same signal once more for stragglers
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
            return
        except subprocess.TimeoutExpired:
            continue


def run_process(command: list[str], log_path: str | Path, env: dict[str, str] | None = None,
                watcher: Any = None, sink: Callable[[bytes], None] = _console_sink, poll_s: float = 2.0,
                grace_s: float = 60.0, header: str = "") -> ProcessResult:
    """Run ``command`` in a new process group; its stdout and stderr go, byte for byte (progress
    bars included), to ``sink`` and are appended to ``log_path``. With a ``watcher``, poll it every
    ``poll_s`` seconds and stop the process group when it returns a checkpoint. Ctrl-C stops the
    group too, then re-raises."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"\n===== {stamp} {header}\n===== $ {shlex.join(command)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env,
                                    start_new_session=True)
        except OSError as e:
            raise ConfigError(f"cannot start the training command {command[0]!r}: {e}") from None

        def pump() -> None:
            fd = proc.stdout.fileno()
            while True:
                data = os.read(fd, 65536)
                if not data:
                    break
                log.write(data)
                log.flush()
                try:
                    sink(data)
                except Exception:  # noqa: BLE001 - a closed console must not stop training
                    pass

        reader = threading.Thread(target=pump, name="dig-train-log", daemon=True)
        reader.start()
        result = ProcessResult(None)
        try:
            while proc.poll() is None:
                if watcher is not None:
                    ckpt = watcher.poll()
                    if ckpt is not None:
                        result.stopped_at = Path(ckpt)
                        msg = f"\n===== dig train: {watcher.describe()}; stopping at {ckpt}\n"
                        log.write(msg.encode())
                        log.flush()
                        sink(msg.encode())
                        _stop_group(proc, grace_s)
                        break
                try:
                    proc.wait(timeout=poll_s)
                except subprocess.TimeoutExpired:
                    pass
        except BaseException:
            _stop_group(proc, grace_s=min(grace_s, 10.0))
            raise
        finally:
            reader.join(timeout=30)
            proc.stdout.close()
        result.returncode = proc.wait()
        log.write(f"===== exit code {result.returncode}\n".encode())
    return result


def log_tail(path: str | Path, lines: int = 20) -> str:
    try:
        text = Path(path).read_bytes()[-20000:].decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])
