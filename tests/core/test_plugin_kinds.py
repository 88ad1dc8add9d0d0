"""Plugin kinds that core resolves by name but does not ship an implementation of yet
(trainers, evaluators): registered from a fixture, selected through config."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from dig_core.config import instantiate, load_config
from dig_core.errors import ConfigError
from dig_core.plugins import Plugin

from tests.helpers import plugin_with, registered


class EchoTrainer(Plugin):
    PLUGIN_NAME = "echo-trainer"

    @dataclass
    class Config:
        steps: int = 1


class EchoEvaluator(Plugin):
    PLUGIN_NAME = "echo-eval"


class EchoModel(Plugin):
    PLUGIN_NAME = "echo-model"


def kinds_plugin():
    return plugin_with(register_model_adapters=[EchoModel], register_trainers=[EchoTrainer],
                       register_evaluators=[EchoEvaluator])


@pytest.fixture
def fixture_plugin():
    with registered(kinds_plugin(), "fixture-kinds") as pm:
        yield pm


def test_trainer_and_evaluator_resolve_by_name(fixture_plugin):
    cfg = load_config(None, ["trainer.name=echo-trainer", "trainer.params.steps=5", "evaluator.name=echo-eval"],
                      sections=("trainer", "evaluator"))
    trainer = instantiate(cfg, "trainer", "trainer")
    assert isinstance(trainer, EchoTrainer) and trainer.config.steps == 5
    assert isinstance(instantiate(cfg, "evaluator", "evaluator"), EchoEvaluator)


def test_model_adapter_and_evaluator_list_resolve(fixture_plugin):
    cfg = load_config(None, ["model.name=echo-model", "evaluators=[{name: echo-eval}]"], sections=("model", "evaluators"))
    assert isinstance(instantiate(cfg, "model", "model_adapter"), EchoModel)
    with pytest.raises(ConfigError, match=r"evaluators\[1\].name: unknown evaluator 'nope'"):
        load_config(None, ["evaluators=[{name: echo-eval}, {name: nope}]"], sections=("evaluators",))


def test_sections_limit_resolution(fixture_plugin):
    # a renderer that is not installed does not stop a command that does not render
    cfg = load_config(None, ["renderer.name=not-installed"], sections=("task", "reward"))
    assert cfg.renderer.name == "not-installed"
    with pytest.raises(ConfigError, match="unknown renderer 'not-installed'"):
        load_config(None, ["renderer.name=not-installed"])


def test_missing_known_plugin_names_its_package(fixture_plugin):
    with pytest.raises(ConfigError, match=r"comes with `pip install dig-render-kubric`"):
        load_config(None, ["renderer.name=kubric"], sections=("renderer",))


def test_bad_trainer_params_and_unknown_names(fixture_plugin):
    with pytest.raises(ConfigError) as e:
        load_config(None, ["trainer.name=echo-trainer", "trainer.params.steps=many", "evaluator.name=nope"],
                    sections=("trainer", "evaluator"))
    text = str(e.value)
    assert "trainer.params" in text and "steps" in text
    assert "unknown evaluator 'nope'; available: " in text and "echo-eval" in text


def test_unregistered_fixture_is_gone(fixture_plugin):
    fixture_plugin.unregister("fixture-kinds")
    assert "echo-trainer" not in fixture_plugin.available("trainer")
    fixture_plugin.register(kinds_plugin(), "fixture-kinds")


def test_constructor_runs_validate_config():
    class Picky(Plugin):
        PLUGIN_NAME = "picky"

        @dataclass
        class Config:
            n: int = 1

        @classmethod
        def validate_config(cls, cfg):
            return [] if cfg.n > 0 else [f"n must be > 0, got {cfg.n}"]

    assert Picky().config.n == 1
    with pytest.raises(ConfigError, match="picky: n must be > 0, got 0"):
        Picky(Picky.Config(n=0))
