"""Aggregators: the class an author writes, and the slot table that runs it inside the plugin."""

import json
import math

from ._errors import (
    INVALID_CONFIG,
    INVALID_STATE,
    PluginError,
    as_plugin_error,
    parse_config,
)
from ._log import Level, log


class Aggregator:
    """The accumulator of one group (one key in one window).

    Subclass it and write ``add``, ``merge`` and ``finish``; ``__init__`` (or ``new``) makes an
    empty accumulator. The host keeps one instance per group inside the plugin and feeds whole
    batches; the instance only sees one value at a time. State becomes bytes (``to_bytes`` /
    ``from_bytes``) only at checkpoints and hot swaps: bump ``STATE_FORMAT`` whenever those
    bytes change. The default bytes are the instance's attributes as JSON, which suits plain
    numbers, strings, lists and dicts; override both methods for anything else or for speed.
    """

    #: Short name, e.g. ``mean``.
    NAME = ""
    #: Semantic version.
    VERSION = "0.1.0"
    #: Version of the bytes ``to_bytes`` writes.
    STATE_FORMAT = 1
    #: One line for people.
    DESCRIPTION = ""
    #: JSON Schema (as text) of the configuration.
    CONFIG_SCHEMA = '{"type":"object"}'

    @classmethod
    def configure(cls, config):
        """Turns the configuration (parsed JSON, ``{}`` when none was given) into whatever
        ``new`` and ``finish`` get. Raise to refuse it. The default accepts anything."""
        return config

    @classmethod
    def outputs(cls, config):
        """Names of the values ``finish`` produces, in order. Default: one unnamed value."""
        return [""]

    @classmethod
    def new(cls, config):
        """An empty accumulator. The default calls ``cls()``."""
        return cls()

    def add(self, value):
        """Adds one value (a float)."""
        raise NotImplementedError

    def merge(self, other):
        """Absorbs ``other`` (same class, same configuration) as if its values were added."""
        raise NotImplementedError

    def finish(self, config):
        """The group's result: a float, or a sequence with one float per output."""
        raise NotImplementedError

    def to_bytes(self):
        """This accumulator's state as bytes (default: its attributes as JSON)."""
        return json.dumps(vars(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data, config):
        """An accumulator from bytes written by ``to_bytes``."""
        group = cls.new(config)
        vars(group).update(json.loads(bytes(data)))
        return group

    @classmethod
    def info(cls):
        """What ``describe()`` reports."""
        return {
            "name": cls.NAME or cls.__name__.lower(),
            "version": cls.VERSION,
            "kind": "aggregator",
            "state_format": int(cls.STATE_FORMAT),
            "description": cls.DESCRIPTION,
            "config_schema": cls.CONFIG_SCHEMA,
        }


class Groups:
    """Every group of one plugin instance, addressed by the slot numbers the host assigns.

    This is the plugin side of the ``aggregate`` interface with plain Python values (lists of
    ints and floats, ``bytes``); the component's exports wrap it, and the tests drive it
    directly. Each method is one call of the interface and loops over the whole batch.
    """

    def __init__(self, cls, config_json):
        try:
            self.config = cls.configure(parse_config(config_json))
            self.output_names = [str(n) for n in cls.outputs(self.config)]
        except Exception as e:  # noqa: BLE001 - any refusal is an invalid configuration
            raise as_plugin_error(e, INVALID_CONFIG) from None
        self.cls = cls
        self.width = len(self.output_names)
        self.slots = {}

    def _group(self, slot):
        group = self.slots.get(slot)
        if group is None:
            group = self.slots[slot] = self.cls.new(self.config)
        return group

    def accumulate(self, slots, values):
        """Adds ``values[i]`` to the group in ``slots[i]``."""
        groups = self.slots
        new = self.cls.new
        config = self.config
        for slot, value in zip(slots, values):
            group = groups.get(slot)
            if group is None:
                group = groups[slot] = new(config)
            group.add(value)

    def merge(self, targets, sources):
        """Merges the group in ``sources[i]`` into ``targets[i]`` and frees the source."""
        for target, source in zip(targets, sources):
            if target == source:
                continue
            other = self.slots.pop(source, None)
            if other is not None:
                self._group(target).merge(other)

    def finish(self, slots):
        """The groups' results, row-major, ``width`` values per slot."""
        out = []
        width = self.width
        config = self.config
        groups = self.slots
        for slot in slots:
            group = groups.get(slot)
            if group is None:
                group = self.cls.new(config)
            result = group.finish(config)
            if width == 1 and type(result) is float:
                out.append(result)  # the common case, without a list per group
                continue
            if isinstance(result, (int, float)):
                result = (result,)
            result = [float(v) for v in result]
            if len(result) != width:
                log(
                    Level.ERROR,
                    f"{self.cls.info()['name']}: finish produced {len(result)} values, "
                    f"outputs declares {width}",
                )
                result = (result + [math.nan] * width)[:width]
            out.extend(result)
        return out

    def release(self, slots):
        """Frees the groups."""
        for slot in slots:
            self.slots.pop(slot, None)

    def save(self, slots):
        """The groups' state as one buffer and offsets (``len(slots) + 1`` of them)."""
        data = bytearray()
        offsets = [0]
        for slot in slots:
            group = self.slots.get(slot)
            if group is None:
                group = self.cls.new(self.config)
            data += group.to_bytes()
            offsets.append(len(data))
        return bytes(data), offsets

    def restore(self, slots, data, offsets):
        """Replaces the groups in ``slots`` with state written by ``save``; all or nothing."""
        if len(offsets) != len(slots) + 1:
            raise PluginError(f"{len(slots)} slots but {len(offsets)} offsets", INVALID_STATE)
        restored = []
        for i in range(len(slots)):
            start, end = offsets[i], offsets[i + 1]
            if not 0 <= start <= end <= len(data):
                raise PluginError(f"offsets {start}..{end} out of range", INVALID_STATE)
            try:
                restored.append(self.cls.from_bytes(data[start:end], self.config))
            except Exception as e:  # noqa: BLE001 - any failure is unreadable state
                raise as_plugin_error(e, INVALID_STATE) from None
        for slot, group in zip(slots, restored):
            self.slots[slot] = group


def export_aggregator(cls):
    """Exports ``cls`` (an ``Aggregator`` subclass) as the component's ``aggregate`` interface.

    Assign the result to ``Aggregate`` in the app module: that is the name ``componentize-py``
    looks for. The returned class only touches the generated WIT bindings when the host calls
    it, so the module still imports (and tests) natively.
    """
    from ._wit import aggregate_export

    return aggregate_export(cls, Groups)
