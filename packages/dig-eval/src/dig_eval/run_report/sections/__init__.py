"""The report's sections, in page order; each ``build(ctx) -> Section`` draws its PNGs into the
report folder and says "missing: <why>" for what it cannot show."""

from dig_eval.run_report.sections import benchmarks, dataset, dynamics, rewards

#: (section id, builder) in page order
SECTIONS = (("dataset", dataset.build), ("rewards", rewards.build), ("benchmarks", benchmarks.build),
            ("dynamics", dynamics.build))
