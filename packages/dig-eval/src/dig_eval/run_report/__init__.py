"""``dig report RUN_DIR``: one self-contained HTML page (plus its PNGs) of a whole run — dataset,
training rewards, benchmarks base vs. trained, prediction dynamics (docs/report.md)."""

from dig_eval.run_report.write import write_report

__all__ = ["write_report"]
