"""dig_core.training's experiment-tracker helpers shared by the trainers (``trainer.params.report_to``):
names checked, W&B credentials found where wandb finds them, missing packages named with their pip
install."""

from __future__ import annotations

import importlib.util

import pytest
from dig_core.training import (
    lr_scheduler_with_warmup,
    report_integrations,
    report_to_errors,
    report_to_problems,
    wandb_credentials_missing,
)


@pytest.mark.parametrize("value, errors", [
    ([], 0), (None, 0), (["none"], 0), (["tensorboard"], 0), (["tensorboard", "wandb"], 0),
    (["mlflow"], 1), (["tensorboard", "Tensorboard"], 1), (["none", "wandb"], 1), (["all"], 1),
])
def test_report_to_errors(value, errors):
    found = report_to_errors(value)
    assert len(found) == errors, found
    assert all(e.startswith("report_to: ") for e in found)


def test_report_integrations_drop_none_and_duplicates():
    assert report_integrations(["none"]) == [] == report_integrations(None)
    assert report_integrations(["wandb", "tensorboard", "wandb"]) == ["wandb", "tensorboard"]


def test_wandb_credentials(tmp_path):
    no_netrc = {"NETRC": str(tmp_path / "missing")}
    assert "WANDB_API_KEY" in wandb_credentials_missing(no_netrc)
    assert wandb_credentials_missing({**no_netrc, "WANDB_API_KEY": "k" * 40}) is None
    assert wandb_credentials_missing({**no_netrc, "WANDB_MODE": "offline"}) is None
    assert wandb_credentials_missing({**no_netrc, "WANDB_MODE": "disabled"}) is None
    netrc = tmp_path / "netrc"  # what `wandb login` writes
    netrc.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    assert wandb_credentials_missing({"NETRC": str(netrc)}) is None
    # a self-hosted server's key is not the cloud's
    assert wandb_credentials_missing({"NETRC": str(netrc), "WANDB_BASE_URL": "https://wandb.example.org"})


def test_report_to_problems_name_the_pip_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("tensorboard", "wandb") else real(name, *a))
    problems = report_to_problems(["tensorboard", "wandb"], env={"WANDB_MODE": "offline"})
    assert [p.split(":")[0] for p in problems] == [
        "trainer.params.report_to has tensorboard but the tensorboard package is not installed",
        "trainer.params.report_to has wandb but the wandb package is not installed"]
    assert "`pip install tensorboard`" in problems[0] and "`pip install wandb`" in problems[1]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    assert report_to_problems(["tensorboard", "wandb"], env={"WANDB_MODE": "offline"}) == []
    assert len(report_to_problems(["wandb"], env={"NETRC": str(tmp_path / "missing")})) == 1
    assert report_to_problems([]) == report_to_problems(["none"]) == []


def test_constant_with_a_warmup_becomes_constant_with_warmup():
    """transformers' ``constant`` schedule ignores the warm-up (get_scheduler returns it before looking
    at num_warmup_steps); the name both trainers pass on makes the warm-up act."""
    torch = pytest.importorskip("torch")
    from transformers import get_scheduler

    assert lr_scheduler_with_warmup("constant", 0.1) == "constant_with_warmup"
    assert lr_scheduler_with_warmup("constant", 0) == "constant"
    assert lr_scheduler_with_warmup("cosine", 0.1) == "cosine"

    def first_lrs(name):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = get_scheduler(name, opt, num_warmup_steps=4, num_training_steps=10)
        out = []
        for _ in range(5):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    assert first_lrs("constant") == [1.0] * 5  # the warm-up is ignored
    assert first_lrs(lr_scheduler_with_warmup("constant", 0.4)) == [0.0, 0.25, 0.5, 0.75, 1.0]
