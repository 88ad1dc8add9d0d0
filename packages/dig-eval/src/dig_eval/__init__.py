"""DiG evaluation: evaluators (DiG-Bench and the paper's benchmarks) and model adapters."""

__version__ = "0.1.0"
