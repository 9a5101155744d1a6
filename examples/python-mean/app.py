"""Example Python aggregator: the mean of a field per group, skipping NaN.

Build: scripts/build-polyglot.sh (componentize-py, world `aggregator`) -> dist/examples/python-mean.wasm
Test:  python -m pytest examples/python-mean  (native, no Wasm)
"""

import math
import struct

from eddy_sdk import Aggregator, export_aggregator


class Mean(Aggregator):
    """Arithmetic mean per group; an empty group's mean is NaN."""

    NAME = "python-mean"
    VERSION = "1.0.0"
    STATE_FORMAT = 1
    DESCRIPTION = "Arithmetic mean of a field per group (Python)."
    CONFIG_SCHEMA = '{"type":"object","additionalProperties":false}'

    @classmethod
    def configure(cls, config):
        if config:
            raise ValueError(f"takes no configuration, got {sorted(config)}")
        return config

    def __init__(self):
        self.total = 0.0
        self.n = 0

    def add(self, value):
        if not math.isnan(value):
            self.total += value
            self.n += 1

    def merge(self, other):
        self.total += other.total
        self.n += other.n

    def finish(self, config):
        return self.total / self.n if self.n else math.nan

    # State format 1: the sum (f64) and the count (u64), little-endian.
    def to_bytes(self):
        return struct.pack("<dQ", self.total, self.n)

    @classmethod
    def from_bytes(cls, data, config):
        group = cls()
        group.total, group.n = struct.unpack("<dQ", data)
        return group


Aggregate = export_aggregator(Mean)
