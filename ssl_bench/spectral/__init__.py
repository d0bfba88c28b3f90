"""Closed-form spectral embeddings as scikit-learn-style estimators, and the closed forms of the SSL losses.

``SPECTRAL_METHODS`` maps a name to its estimator class (``fit`` / ``transform`` / ``fit_transform``): the classic
embeddings (laplacian-eigenmaps, classical-mds, landmark-mds, isomap, lpp, cca) and the leaderboard's closed-form SSL
rows (vicreg-closed-form, simclr-closed-form, barlowtwins-closed-form: :mod:`linear_closed_forms`, linear regime, or
kernel regime on a :mod:`feature_maps` map). :mod:`closed_forms` and :mod:`verification` hold the non-parametric
closed forms and their check against the training losses.
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
