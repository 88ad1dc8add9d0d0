"""Samplers: base scenes (``scenes.py``), edits between A and B (``edits.py``), and the CLEVR-style
placement both use (``placement.py``)."""

from dig_core.sampling.edits import (
    build_perturbations,
    edit_context,
    quota_stream,
    quota_types,
    sample_edits,
    sample_typed_edits,
)
from dig_core.sampling.placement import find_free_spot, ground_directions, spot_is_free
from dig_core.sampling.scenes import sample_camera, sample_lights, sample_scene, vocabulary_from_config

__all__ = [
    "build_perturbations",
    "edit_context",
    "find_free_spot",
    "ground_directions",
    "quota_stream",
    "quota_types",
    "sample_camera",
    "sample_edits",
    "sample_lights",
    "sample_scene",
    "sample_typed_edits",
    "spot_is_free",
    "vocabulary_from_config",
]
