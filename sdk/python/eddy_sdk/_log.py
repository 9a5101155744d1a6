"""Logging to the host: the one import a plugin has."""

import enum
import sys


class Level(enum.IntEnum):
    """Severity of a log line (the WIT ``log.level`` enum, in order)."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


def log(level, message):
    """Writes a line to the host's log (to stderr when running natively, e.g. under pytest)."""
    if sys.platform == "wasi":
        from wit_world.imports import log as wit_log  # only exists inside the component

        wit_log.log(wit_log.Level(int(level)), str(message))
    else:
        print(f"[{Level(int(level)).name}] {message}", file=sys.stderr)
