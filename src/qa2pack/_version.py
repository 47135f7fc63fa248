"""The package version, in one place (tests pin it to keep generated text byte-stable)."""

__version__ = "0.1.0"
