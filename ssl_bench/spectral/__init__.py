"""Closed-form spectral embeddings as scikit-learn-style estimators, and the closed forms of the SSL losses.

``SPECTRAL_METHODS`` maps a name to its estimator class (``fit`` / ``transform`` / ``fit_transform``).
"""

from __future__ import annotations

from ssl_bench.spectral.base import SPECTRAL_METHODS
from ssl_bench.spectral.cca import LinearCCA
from ssl_bench.spectral.classical_mds import ClassicalMDS
from ssl_bench.spectral.isomap import Isomap
from ssl_bench.spectral.landmark_mds import LandmarkMDS
from ssl_bench.spectral.laplacian_eigenmaps import LaplacianEigenmaps
from ssl_bench.spectral.linear_closed_forms import BarlowTwinsClosedForm, SimCLRClosedForm, VICRegClosedForm
from ssl_bench.spectral.lpp import LocalityPreservingProjections

__all__ = [
    "SPECTRAL_METHODS",
    "BarlowTwinsClosedForm",
    "ClassicalMDS",
    "Isomap",
    "LandmarkMDS",
    "LaplacianEigenmaps",
    "LinearCCA",
    "LocalityPreservingProjections",
    "SimCLRClosedForm",
    "VICRegClosedForm",
]
