"""What the device models share: the record of an access a model does not
implement (an offset it has no register at, a width it does not take).
Models record these instead of raising, so a kernel's stray access is
reported with the run, never lost; the board lists them in its reports."""

from __future__ import annotations

from typing import NamedTuple


class BadAccess(NamedTuple):
    """An access the model does not implement: what the board reports."""
    kind: str       # "read" or "write"
    offset: int
    size: int
    value: int | None
    reason: str = ""
