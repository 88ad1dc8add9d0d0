"""Exceptions that the CLI turns into clear messages (no traceback) for users."""

from __future__ import annotations


class DigError(Exception):
    """A user-facing error: bad input, bad config, unsatisfiable request.

    The CLI prints ``error: <message>`` and exits with :attr:`exit_code` without a traceback.
    """

    exit_code = 1


class ConfigError(DigError):
    """One or more configuration problems, all reported at once (exit code 2)."""

    exit_code = 2

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        n = len(self.errors)
        head = "invalid configuration" if n == 1 else f"invalid configuration ({n} problems)"
        super().__init__(head + ":\n" + "\n".join(f"  - {e}" for e in self.errors))


class SpecError(DigError):
    """A scene spec that is not valid (unknown value, overlap, off the ground, out of bounds)."""


class SamplingError(DigError):
    """A sampler could not satisfy its config within its bounded retries."""


class PluginError(DigError):
    """A plugin could not be loaded, is registered twice, or is asked for by an unknown name."""


class DatasetError(DigError):
    """A dataset folder is missing, unreadable or corrupt (the message names file and line); exit
    code 2, like any bad input."""

    exit_code = 2


class OutputError(DigError):
    """An output that cannot be written, or not safely (the message names the file; exit code 2,
    nothing is left half-written): its folder is missing or not writable, the disk is full, a folder
    that is not a DiG dataset, a dataset another process is writing, a path inside the dataset being read."""

    exit_code = 2


class Interrupted(DigError):
    """A run stopped by SIGINT or SIGTERM after keeping what finished; exit code 128 + the signal."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
