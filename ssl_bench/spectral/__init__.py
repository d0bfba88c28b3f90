"""Closed-form spectral embeddings as scikit-learn-style estimators, and the closed forms of the SSL losses.

``SPECTRAL_METHODS`` maps a name to its estimator class (``fit`` / ``transform`` / ``fit_transform``), one module
each in :mod:`ssl_bench.spectral.methods`: the classic embeddings (laplacian-eigenmaps, classical-mds,
landmark-mds, isomap, lpp, cca) and the leaderboard's closed-form SSL rows (vicreg-closed-form,
simclr-closed-form, barlowtwins-closed-form: :mod:`linear_closed_forms`, linear regime, or kernel regime on a
:mod:`feature_maps` map). :mod:`closed_forms` and :mod:`verification` hold the non-parametric closed forms and
their check against the training losses. Importing this package is cheap; its names are imported when first used.
"""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

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
__getattr__ = lazy_exports(__name__, {
    "SPECTRAL_METHODS": "base", "BarlowTwinsClosedForm": "methods.barlowtwins_closed_form",
    "ClassicalMDS": "methods.classical_mds", "Isomap": "methods.isomap", "LandmarkMDS": "methods.landmark_mds",
    "LaplacianEigenmaps": "methods.laplacian_eigenmaps", "LinearCCA": "methods.cca",
    "LocalityPreservingProjections": "methods.lpp", "SimCLRClosedForm": "methods.simclr_closed_form",
    "VICRegClosedForm": "methods.vicreg_closed_form",
})
