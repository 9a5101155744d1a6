"""Why a plugin refused a call: the WIT ``plugin-error`` variant."""

import json

INVALID_CONFIG = "invalid-config"
INVALID_STATE = "invalid-state"
INVALID_INPUT = "invalid-input"
FAILED = "failed"


class PluginError(Exception):
    """An error the host sees as a ``plugin-error``.

    Plugin code may raise any exception; the adapter reports it as ``kind`` of the call
    (``invalid-config`` from configuration, ``invalid-input`` from processing a batch,
    ``invalid-state`` from restoring). Raise ``PluginError(message, kind)`` to choose.
    """

    def __init__(self, message, kind=FAILED):
        super().__init__(message)
        self.kind = kind
        self.message = str(message)


def as_plugin_error(error, kind):
    """``error`` as a ``PluginError`` of ``kind`` unless it already is one."""
    if isinstance(error, PluginError):
        return error
    text = str(error) or type(error).__name__
    return PluginError(text, kind)


def parse_config(text):
    """The configuration JSON as Python data: an empty string or ``null`` reads as ``{}``."""
    text = (text or "").strip()
    if not text or text == "null":
        return {}
    try:
        return json.loads(text)
    except ValueError as e:
        raise PluginError(f"configuration is not JSON: {e}", INVALID_CONFIG) from None
