"""The package version, and the model file format that this version reads and writes."""

__version__ = "0.1.0"
FILE_FORMAT = 1
