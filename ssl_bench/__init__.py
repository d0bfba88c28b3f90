"""ssl-bench: self-supervised learning methods and their spectral closed forms, under one protocol."""

__version__ = "0.1.0"
