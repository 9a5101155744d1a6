"""eddy_sdk: write Eddy plugins in Python.

An Eddy plugin is a WebAssembly component built from a Python module with ``componentize-py``
against the WIT package ``eddy:plugin`` (the repository's ``wit/`` folder). With this package a
plugin is one class (an aggregator) or one function (a map, filter or flat-map) and one export
line; the same code is tested natively with ``pytest``.

An aggregator (``app.py``)::

    from eddy_sdk import Aggregator, export_aggregator

    class Mean(Aggregator):
        NAME = "mean"
        VERSION = "1.0.0"

        def __init__(self):
            self.total, self.n = 0.0, 0

        def add(self, value):
            self.total += value
            self.n += 1

        def merge(self, other):
            self.total += other.total
            self.n += other.n

        def finish(self, config):
            return self.total / self.n if self.n else float("nan")

    Aggregate = export_aggregator(Mean)

A filter::

    from eddy_sdk import export_filter

    def keep(event, config):
        return len(event.payload) > 0

    Transformer = export_filter(keep, name="non-empty", version="1.0.0")

A filter over columns (the host decodes ``/amount``; nothing is parsed in the sandbox)::

    from eddy_sdk import export_column_filter

    def keep(amount, config):
        return amount >= 0

    Columns = export_column_filter(keep, reads=[("/amount", "float")], name="not-negative")

Build with ``componentize-py -d wit -w aggregator componentize app -p . -p sdk/python -o
plugin.wasm`` (``-w transform`` for maps and filters, ``-w column-transform`` for column ones). The export
line names the class ``componentize-py`` looks for: ``Aggregate`` for the aggregator world,
``Transformer`` for the transform world, ``Columns`` for the column-transform world.

What crosses the sandbox: one call per batch, the columns are looped over inside the component,
and every group's accumulator lives in the component's memory addressed by the slot number the
host gave it; state becomes bytes only at a checkpoint or a hot swap.
"""

from ._aggregate import Aggregator, Groups, export_aggregator
from ._columns import ColumnTransform, export_column_filter, export_column_map
from ._errors import PluginError
from ._log import Level, log
from ._transform import (
    Event,
    Record,
    Transform,
    export_filter,
    export_flat_map,
    export_map,
)

__all__ = [
    "Aggregator",
    "ColumnTransform",
    "Event",
    "Groups",
    "Level",
    "PluginError",
    "Record",
    "Transform",
    "export_aggregator",
    "export_column_filter",
    "export_column_map",
    "export_filter",
    "export_flat_map",
    "export_map",
    "log",
]
