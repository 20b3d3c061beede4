"""Session Service: a history server for process sessions and their logs."""

__version__ = "0.1.0"
