"""DiG trainer plugin ``trl``: curriculum GRPO on TRL's ``GRPOTrainer`` (CPU or one GPU)."""

__version__ = "0.1.0"
