"""What a stage leaves in ``RUN_DIR/<stage>/ckpt`` (``--ckpt.path``) and ``checkpoint/``: loadable
model folders, resume, and the disk freed after DONE.

* **Loadable checkpoints.** OpenRLHF 0.11.2 saves its HF checkpoints with the tokenizer its
  ``get_tokenizer`` returns for the raw HF model: a plain tokenizer, no image-processor files, so
  ``AutoProcessor`` (and the next stage's vLLM engines) cannot load the folder.
  :func:`save_processor` writes the stage's starting processor into it before the trainer hands it
  on (DONE, or a checkpoint the advance watcher stops at).
* **Resume.** ``--ckpt.load_enable`` restarts an interrupted stage at the step named in
  ``<ckpt>/_actor/latest`` (DeepSpeed's file), dataloader included: :func:`resume_step` reads it so
  that ``rewards.jsonl`` can be cut to the samples of the steps before it.
* **Disk.** After DONE, :func:`stage_leftovers` lists the DeepSpeed states and the HF checkpoints
  the DONE marker does not name; only entries of the layout OpenRLHF writes there are listed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from dig_core.training import TrainError

from dig_train_openrlhf.watcher import checkpoint_complete, hf_checkpoints, weights_complete

#: OpenRLHF's DeepSpeed states of the actor: os.path.join(args.ckpt.path, "_actor")
DEEPSPEED_DIR = "_actor"
#: what DeepSpeed's save_checkpoint writes there: the tag folders, the ``latest`` tag file and its
#: ZeRO-to-fp32 script
DEEPSPEED_TAG = re.compile(r"^global_step(\d+)$")
DEEPSPEED_FILES = ("latest", "zero_to_fp32.py")


def save_processor(model_dir: str | Path, checkpoint: str | Path) -> None:
    """Save the processor of ``model_dir`` (the stage's starting model) into ``checkpoint`` and check
    that the folder is now a complete model folder with its processor. TrainError otherwise."""
    from dig_core.models.tiny import require_hf

    require_hf("saving the processor into a stage checkpoint")
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(str(model_dir), local_files_only=True)
        processor.save_pretrained(str(checkpoint))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TrainError(f"cannot save the processor of {model_dir} into the checkpoint {checkpoint} "
                         f"({type(e).__name__}: {e})") from None
    if not checkpoint_complete(checkpoint):
        raise TrainError(f"{checkpoint}: not a complete model folder after saving the processor of {model_dir} "
                         "(config.json, weights, tokenizer and processor files expected)")


def resume_step(ckpt_dir: str | Path) -> int | None:
    """The global step OpenRLHF resumes a stage at (``--ckpt.load_enable``): the tag in
    ``<ckpt>/_actor/latest``; None without DeepSpeed states (the stage starts over)."""
    latest = Path(ckpt_dir) / DEEPSPEED_DIR / "latest"
    try:
        tag = latest.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    m = DEEPSPEED_TAG.match(tag)
    if not m or not (latest.parent / tag).is_dir():
        raise TrainError(f"{latest}: names {tag!r}, not a DeepSpeed checkpoint global_step<N> in {latest.parent}; "
                         f"delete {latest.parent} to train the stage from its start")
    return int(m.group(1))


def stage_leftovers(ckpt_dir: str | Path, keep: str | Path) -> list[Path]:
    """What a finished stage no longer needs in ``ckpt_dir``: DeepSpeed's entries in ``_actor`` and
    every ``global_step<N>_hf`` folder but ``keep`` (the checkpoint DONE names). Nothing else: a file
    OpenRLHF does not write there is never listed."""
    root = Path(ckpt_dir)
    keep = Path(keep).resolve()
    out = [p for p in sorted(hf_checkpoints(root)) if p.resolve() != keep]
    ds = root / DEEPSPEED_DIR
    if ds.is_dir() and not ds.is_symlink():
        out += sorted(p for p in ds.iterdir() if (DEEPSPEED_TAG.match(p.name) and p.is_dir() and not p.is_symlink())
                      or (p.name in DEEPSPEED_FILES and p.is_file()))
    return out


def delete_leftovers(ckpt_dir: str | Path, keep: str | Path) -> list[Path]:
    """Delete :func:`stage_leftovers`, then ``_actor`` and ``ckpt_dir`` themselves if that left them
    empty; returns what was deleted."""
    root = Path(ckpt_dir)
    gone = stage_leftovers(root, keep)
    for p in gone:
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    for d in (root / DEEPSPEED_DIR, root):
        try:
            d.rmdir()  # only when empty
        except OSError:
            pass
    return gone


def kept_hf_checkpoints(ckpt_dir: str | Path) -> list[Path]:
    """The complete HF checkpoints OpenRLHF left in ``ckpt_dir`` (processor files or not), by step."""
    return [p for p, _ in sorted(hf_checkpoints(ckpt_dir).items(), key=lambda kv: kv[1]) if weights_complete(p)]

