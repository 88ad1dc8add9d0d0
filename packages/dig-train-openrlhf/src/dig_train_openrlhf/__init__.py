"""DiG trainer plugin ``openrlhf``: curriculum GRPO on OpenRLHF (export, reward module, launcher)."""

__version__ = "0.1.0"
