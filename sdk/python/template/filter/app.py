"""__NAME__: a filter. Keeps or drops each event."""

from eddy_sdk import export_filter


def non_empty(event, config):
    """Drops empty events."""
    return bool(event.payload.strip())


Transformer = export_filter(non_empty, name="__NAME__", version="0.1.0")
