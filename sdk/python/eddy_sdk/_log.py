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


class _LogWriter:
    """A text stream that sends each line to the host's log.

    Inside the component every WASI import is a trapping stub (the host grants plugins nothing
    but logging), so writing to the real stdout or stderr would trap. ``print`` and tracebacks
    go to the host's log instead.
    """

    def __init__(self, level):
        self.level = level
        self.pending = ""

    def write(self, text):
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            log(self.level, line)
        return len(text)

    def flush(self):
        if self.pending:
            log(self.level, self.pending)
            self.pending = ""

    def isatty(self):
        return False

    def writable(self):
        return True


if sys.platform == "wasi":  # pragma: no cover - only inside the component
    sys.stdout = _LogWriter(Level.INFO)
    sys.stderr = _LogWriter(Level.WARN)
