"""__NAME__: an aggregator. Each group (key x window) gets its own instance of the class below;
the host calls `add` per event, `merge` for session windows, `finish` when the window fires."""

import math
import struct

from eddy_sdk import Aggregator, export_aggregator


class Plugin(Aggregator):
    """Sum of a field per group. Its state is saved at checkpoints: change `to_bytes` only
    together with a new `STATE_FORMAT`."""

    NAME = "__NAME__"
    VERSION = "0.1.0"
    STATE_FORMAT = 1
    DESCRIPTION = "Sum of a field per group."

    def __init__(self):
        self.total = 0.0

    def add(self, value):
        if math.isfinite(value):
            self.total += value

    def merge(self, other):
        self.total += other.total

    def finish(self, config):
        return self.total

    def to_bytes(self):
        return struct.pack("<d", self.total)

    @classmethod
    def from_bytes(cls, data, config):
        group = cls()
        (group.total,) = struct.unpack("<d", data)
        return group


Aggregate = export_aggregator(Plugin)
