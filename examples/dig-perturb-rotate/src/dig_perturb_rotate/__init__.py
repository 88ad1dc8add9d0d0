"""Example DiG plugin: the ``rotate`` perturbation (registered through the ``dig`` entry point)."""

from dig_core import hookimpl

from dig_perturb_rotate.rotate import RotateCube

__version__ = "0.1.0"


@hookimpl
def register_perturbations() -> list[type]:
    return [RotateCube]


__all__ = ["RotateCube", "register_perturbations"]
