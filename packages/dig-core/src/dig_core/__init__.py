"""DiG core: scene specs, perturbation/renderer/task/reward/curriculum plugin interfaces, config, CLI."""

import pluggy

__version__ = "0.1.0"

#: decorator for plugin hook implementations: ``@hookimpl def register_perturbations(): ...``
hookimpl = pluggy.HookimplMarker("dig")

__all__ = ["__version__", "hookimpl"]
