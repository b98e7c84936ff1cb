"""The few exceptions and warnings that ICP Lens raises.

Every message is written for a person who is not a programmer: what is wrong,
what was expected, what was found, and one hint, as whole sentences.
"""

from __future__ import annotations

__all__ = ["IcpError", "SchemaError", "InsufficientDataError", "DataQualityWarning"]


class IcpError(Exception):
    """Base class of the errors that the ``icp`` command reports without a traceback."""


class SchemaError(IcpError, ValueError):
    """The input does not match the data contract (missing table or column, unreadable file)."""


class InsufficientDataError(IcpError, ValueError):
    """There is not enough usable data for the requested analysis."""


class DataQualityWarning(UserWarning):
    """A soft problem in the input, reported with counts; the run goes on."""
