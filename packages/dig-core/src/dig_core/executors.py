"""Old import path of :mod:`dig_core.generate.executors`: ``import dig_core.executors`` gives that very module."""

import sys

from dig_core.generate import executors as _executors

sys.modules[__name__] = _executors
