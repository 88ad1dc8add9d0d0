"""``dig show``: a picture of a dataset."""

from __future__ import annotations

import itertools

import click

from dig_core.dataset import read_annotations


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--n", "n", default=16, show_default=True, help="Number of pairs to draw.")
@click.option("--ids", default=None, help="Comma-separated pair ids to draw instead of the first N.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
def show(dataset: str, n: int, ids: str | None, out: str) -> None:
    """Draw pairs of DATASET as a contact sheet: I_a | I_b with the ground-truth boxes and each
    difference's type."""
    from dig_core.errors import DigError
    from dig_core.visualize import contact_sheet

    records = read_annotations(dataset)
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        found = {r["id"]: r for r in records if r["id"] in wanted}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise DigError(f"no pair with id {', '.join(missing)} in {dataset}")
        chosen = [found[i] for i in wanted]
    else:
        chosen = list(itertools.islice(records, max(n, 0)))
    count = contact_sheet(dataset, chosen, out)
    if count == 0:
        raise DigError(f"{dataset} has no pairs to draw")
    click.echo(f"drew {count} pairs to {out}")
