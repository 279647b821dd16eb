"""npm-inspect: see which hop said no when npm fails behind a corporate proxy."""

__version__ = "0.1.0"

__all__ = ["__version__"]
