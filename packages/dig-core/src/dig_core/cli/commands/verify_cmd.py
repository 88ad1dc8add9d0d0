"""``dig verify``: recompute a dataset's content hash and compare it with its manifest's."""

from __future__ import annotations

import click

from dig_core.errors import DigError


class VerifyFailed(DigError):
    """The dataset reads but is not the one recorded or expected (exit code 1)."""


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--expect", default=None, metavar="sha256:HEX",
              help="Also require this hash, e.g. the one another lab published for its copy.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def verify(dataset: str, expect: str | None, no_progress: bool) -> None:
    """Check that DATASET holds exactly the pairs it was generated with: first every line and image
    (JSON, keys, boxes inside their image, ids on one line each, image paths inside DATASET,
    decodable PNGs of the line's size; all problems are listed, exit code 2), then recompute the
    sha256 over every pair's annotation and image bytes (in id order) and compare it with the
    content_hash that `dig generate` recorded in DATASET/dataset.json (and with --expect). Exit
    code 1 on a mismatch.

    Two labs that get the same hash evaluate the same set, e.g. DiG-Bench (docs/dig-bench.md).

    Example: dig verify dig-bench --expect sha256:3f1c...
    """
    from dig_core.data.dataset import MANIFEST, content_hash, problems_message, read_manifest, scan_dataset
    from dig_core.errors import DatasetError

    manifest = read_manifest(dataset) if expect is None else _manifest_if_any(dataset)
    recorded = manifest.get("content_hash")
    if expect is None and not recorded:
        raise VerifyFailed(f"{dataset}/{MANIFEST} records no content_hash (status: {manifest.get('status', '?')}); "
                           "finish `dig generate`, or pass --expect HASH")
    records, problems = scan_dataset(dataset, images=True)
    if problems:
        raise DatasetError(f"{dataset}: {problems_message(problems, limit=None)}")
    actual = content_hash(dataset, progress=not no_progress, records=records)
    if recorded and actual != recorded:
        raise VerifyFailed(f"{dataset}: content hash {actual} differs from {recorded} recorded in {MANIFEST}: "
                           "annotations or images changed after generation")
    if expect is not None and actual != expect.strip():
        raise VerifyFailed(f"{dataset}: content hash {actual} differs from the expected {expect.strip()}")
    checked = " and ".join(x for x in (MANIFEST if recorded else "", "--expect" if expect else "") if x)
    click.echo(f"{dataset}: {actual} matches {checked}")


def _manifest_if_any(dataset: str) -> dict:
    from pathlib import Path

    from dig_core.data.dataset import MANIFEST, read_manifest

    return read_manifest(dataset) if (Path(dataset) / MANIFEST).is_file() else {}
