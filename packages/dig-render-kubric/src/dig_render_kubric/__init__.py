"""DiG renderer plugin ``kubric``: CLEVR-like scenes through Kubric (scene model, Blender renderer,
PyBullet simulator) on the bpy this workspace uses (4.5 LTS or 5.0)."""

__version__ = "0.1.0"

#: the Kubric release this adapter is written and tested against (the newest on PyPI)
KUBRIC_VERSION = "2023.12.27"

__all__ = ["KUBRIC_VERSION", "__version__"]
