"""__NAME__: a map. Each event's payload in, a new payload out."""

from eddy_sdk import Record, export_map


def trim(event, config):
    """Trims white space around each event."""
    return Record(event.payload.strip(), event.timestamp)


Transformer = export_map(trim, name="__NAME__", version="0.1.0")
