"""Model adapters shipped with dig-eval (``model: {name: hf | vllm | predictions}``)."""

from dig_eval.adapters.hf import HFAdapter
from dig_eval.adapters.predictions import PredictionsAdapter
from dig_eval.adapters.vllm import VLLMAdapter

ADAPTERS: list[type] = [HFAdapter, VLLMAdapter, PredictionsAdapter]
