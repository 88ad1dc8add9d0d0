"""Model adapters shipped with dig-eval (``model: {name: hf | vllm | predictions}``)."""

#: filled by the adapter modules as they land: hf, vllm, predictions
ADAPTERS: list[type] = []
