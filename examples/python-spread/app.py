"""Example Python aggregator: the spread (largest minus smallest value) of a field per group,
times a configurable scale. The twin of the Rust example `examples/spread`: same name, same
configuration (`{"scale": 1.0}`), same results, and the same state bytes, so either one can
take over the other's open windows at a hot swap.

Build: scripts/build-polyglot.sh (componentize-py, world `aggregator`) -> dist/examples/python-spread.wasm
Test:  python -m pytest examples/python-spread  (native, no Wasm)
"""

import math
import struct

from eddy_sdk import Aggregator, export_aggregator


class Spread(Aggregator):
    """Smallest and largest value seen; an empty group's spread is NaN."""

    NAME = "spread"
    VERSION = "1.0.0"
    STATE_FORMAT = 1
    DESCRIPTION = "Largest minus smallest value of a field, scaled (Python)."
    CONFIG_SCHEMA = (
        '{"type":"object","properties":{"scale":{"type":"number"}},"additionalProperties":false}'
    )

    @classmethod
    def configure(cls, config):
        """The scale (default 1.0), a finite number."""
        if not isinstance(config, dict) or set(config) - {"scale"}:
            raise ValueError(f"takes only scale, got {config!r}")
        scale = config.get("scale", 1.0)
        number = isinstance(scale, (int, float)) and not isinstance(scale, bool)
        if not number or not math.isfinite(scale):
            raise ValueError("scale: must be a finite number")
        return float(scale)

    def __init__(self):
        self.min = math.inf
        self.max = -math.inf

    def add(self, value):
        # Every comparison with NaN is false: NaN is skipped, as Rust's f64::min and max skip it.
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def merge(self, other):
        if other.min < self.min:
            self.min = other.min
        if other.max > self.max:
            self.max = other.max

    def finish(self, scale):
        return (self.max - self.min) * scale if self.min <= self.max else math.nan

    # State format 1: min and max, f64 little-endian, 16 bytes (what the Rust spread's postcard
    # encoding of its two f64 fields is).
    def to_bytes(self):
        return struct.pack("<dd", self.min, self.max)

    @classmethod
    def from_bytes(cls, data, config):
        group = cls()
        group.min, group.max = struct.unpack("<dd", data)
        return group


Aggregate = export_aggregator(Spread)
