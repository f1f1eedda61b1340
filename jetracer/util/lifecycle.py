"""Closing what a command or session built: every part, in the order given, whatever fails."""

import logging

__all__ = ["close_parts"]

log = logging.getLogger(__name__)


def close_parts(named_parts):
    """Close each ``(name, part)`` with its ``close()`` or, failing that, ``stop()``; a part that is
    None or has neither is skipped, and one that raises is logged so the rest still close (the car's
    own close writes neutral, so it must never be skipped because a camera failed first)."""
    for name, part in named_parts:
        closer = getattr(part, "close", None) or getattr(part, "stop", None)
        if closer is None:
            continue
        try:
            closer()
        except Exception as exc:  # noqa: BLE001 - keep closing the rest
            log.error("closing the %s: %s", name, exc)
