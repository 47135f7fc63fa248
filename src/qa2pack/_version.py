"""The package version, in one place: the build, ``qa2pack --version`` and every generated file read it here."""

__version__ = "0.1.0"
