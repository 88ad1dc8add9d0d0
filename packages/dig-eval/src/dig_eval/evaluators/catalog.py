"""The paper's benchmarks (Tables 1-3), one evaluator class each."""

BENCHMARKS: list[type] = []
