"""Stage checkpoints (``dig_train_openrlhf.checkpoints``): what OpenRLHF 0.11.2's save path writes
cannot be loaded as a vision-language model; the trainer's completion step makes it loadable. Resume
reads DeepSpeed's ``latest`` tag; cleanup after DONE deletes only what OpenRLHF writes there.

The HF checkpoint is made here with OpenRLHF's own ``get_tokenizer``, called exactly as
``trainer/ray/ppo_actor.py`` calls it (``get_tokenizer(pretrain, actor.model, "left", strategy,
use_fast=not args.data.disable_fast_tokenizer)``, ``actor.model`` being the raw HF model), and saved
as ``DeepspeedStrategy.save_model`` saves (``save_pretrained`` with the state dict, ``config.json``,
``tokenizer.save_pretrained``): DeepSpeed itself does not run on a CPU machine."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from dig_core.errors import DigError

pytest.importorskip("dig_train_openrlhf")
flags = pytest.importorskip("dig_train_openrlhf.flags")
from dig_train_openrlhf.checkpoints import (  # noqa: E402
    delete_leftovers,
    resume_step,
    save_processor,
    stage_leftovers,
)
from dig_train_openrlhf.watcher import checkpoint_complete, weights_complete  # noqa: E402


def openrlhf_hf_checkpoint(pretrain: Path, out: Path) -> Path:
    """``<ckpt.path>/global_step<N>_hf`` as OpenRLHF 0.11.2 writes it for a VLM policy."""
    pytest.importorskip("openrlhf.utils.utils")
    from openrlhf.utils.config import hierarchize
    from openrlhf.utils.utils import get_tokenizer
    from transformers import AutoModelForImageTextToText

    args = hierarchize(flags.build_parser().parse_args(["--actor.model_name_or_path", str(pretrain)]))
    strategy = SimpleNamespace(args=args)
    model = AutoModelForImageTextToText.from_pretrained(str(pretrain))  # Actor's model class for a VLM
    tokenizer = get_tokenizer(str(pretrain), model, "left", strategy, use_fast=not args.data.disable_fast_tokenizer)
    model.save_pretrained(str(out), state_dict=model.state_dict())
    model.config.to_json_file(str(out / "config.json"))
    tokenizer.save_pretrained(str(out))
    return out


@pytest.mark.parametrize("family", ["qwen3_vl", "qwen2_5_vl"])
def test_openrlhfs_checkpoint_loads_as_a_vlm_after_the_completion_step(family, request, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    pretrain = request.getfixturevalue({"qwen3_vl": "tiny_qwen3_vl", "qwen2_5_vl": "tiny_qwen25_vl"}[family])
    ckpt = openrlhf_hf_checkpoint(pretrain, tmp_path / "ckpt" / "global_step2_hf")
    # the bug: a plain tokenizer only, which vLLM's AutoProcessor (and dig eval) cannot load
    with pytest.raises(OSError, match="image processor"):
        AutoProcessor.from_pretrained(str(ckpt))
    assert weights_complete(ckpt) and not checkpoint_complete(ckpt)

    save_processor(pretrain, ckpt)  # what the trainer does before DONE / before handing a checkpoint on
    assert checkpoint_complete(ckpt)
    loaded, start = AutoProcessor.from_pretrained(str(ckpt)), AutoProcessor.from_pretrained(str(pretrain))
    assert type(loaded) is type(start)
    assert loaded.image_processor.to_dict() == start.image_processor.to_dict()
    assert loaded.tokenizer("<|im_start|>user x").input_ids == start.tokenizer("<|im_start|>user x").input_ids
    assert type(AutoModelForImageTextToText.from_pretrained(str(ckpt))).__name__.startswith(
        "Qwen3VL" if family == "qwen3_vl" else "Qwen2_5_VL")


def test_save_processor_names_a_folder_it_cannot_read(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(DigError, match=r"cannot save the processor of .*nowhere into the checkpoint"):
        save_processor(tmp_path / "nowhere", tmp_path / "out")


def test_resume_step_reads_deepspeeds_latest_tag(tmp_path):
    assert resume_step(tmp_path / "ckpt") is None
    ds = tmp_path / "ckpt" / "_actor"
    (ds / "global_step40").mkdir(parents=True)
    (ds / "latest").write_text("global_step40\n")
    assert resume_step(tmp_path / "ckpt") == 40
    (ds / "latest").write_text("global_step60")
    with pytest.raises(DigError, match=r"names 'global_step60', not a DeepSpeed checkpoint .* delete"):
        resume_step(tmp_path / "ckpt")


def test_cleanup_after_done_deletes_only_what_openrlhf_writes(tmp_path):
    ckpt = tmp_path / "dig-1" / "ckpt"
    ds = ckpt / "_actor"
    for step in (20, 40):
        (ds / f"global_step{step}").mkdir(parents=True)
        (ds / f"global_step{step}" / "zero_pp_rank_0_mp_rank_00_optim_states.pt").write_bytes(b"0" * 32)
        (ckpt / f"global_step{step}_hf").mkdir()
        (ckpt / f"global_step{step}_hf" / "model.safetensors").write_bytes(b"0")
    (ds / "latest").write_text("global_step40")
    (ds / "zero_to_fp32.py").write_text("# DeepSpeed's script\n")
    mine = [ckpt / "notes.txt", ds / "my-analysis.json", ckpt / "global_step40_hf_backup"]
    mine[0].write_text("mine")
    mine[1].write_text("{}")
    mine[2].mkdir()
    keep = ckpt / "global_step40_hf"  # the checkpoint an advanced stage's DONE names
    listed = stage_leftovers(ckpt, keep)
    assert sorted(p.relative_to(ckpt).as_posix() for p in listed) == [
        "_actor/global_step20", "_actor/global_step40", "_actor/latest", "_actor/zero_to_fp32.py",
        "global_step20_hf"]
    assert delete_leftovers(ckpt, keep) == listed
    assert keep.is_dir() and all(p.exists() for p in mine)
    assert sorted(p.name for p in ds.iterdir()) == ["my-analysis.json"]
    # a completed stage (DONE names <stage>/checkpoint): every HF checkpoint goes; emptied folders too
    mine[1].unlink()
    delete_leftovers(ckpt, tmp_path / "dig-1" / "checkpoint")
    assert sorted(p.name for p in ckpt.iterdir()) == ["global_step40_hf_backup", "notes.txt"]
    mine[0].unlink()
    mine[2].rmdir()
    assert delete_leftovers(ckpt, tmp_path / "dig-1" / "checkpoint") == [] and not ckpt.exists()


def test_cleanup_keeps_the_checkpoint_the_done_marker_names(tmp_path):
    """DONE stores the checkpoint relative to the run folder and reads it back absolute: either way it stays."""
    from dig_core.training import RunDir

    run = RunDir(tmp_path / "run")
    ckpt = run.stage("dig-1").dir / "ckpt"
    (ckpt / "global_step2_hf").mkdir(parents=True)
    run.mark_done("dig-1", ckpt / "global_step2_hf", "advanced", 2)
    delete_leftovers(ckpt, run.read_done("dig-1")["checkpoint"])
    assert (ckpt / "global_step2_hf").is_dir()
    assert json.loads(run.stage("dig-1").done.read_text())["checkpoint"] == "dig-1/ckpt/global_step2_hf"
