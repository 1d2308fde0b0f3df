"""uet: an execution framework for development automation."""

__version__ = "0.1.0"
