"""BarlowTwins' closed form, CCA of related pairs with tied weights (Thm 6): :mod:`ssl_bench.spectral.linear_closed_forms`."""

from __future__ import annotations

import numpy as np

from ssl_bench.spectral.base import SPECTRAL_METHODS
from ssl_bench.spectral.linear_closed_forms import GraphForms, LinearClosedForm
from ssl_bench.spectral.methods.lpp import generalized_bottom_eigenvectors


@SPECTRAL_METHODS.register("barlowtwins-closed-form")
class BarlowTwinsClosedForm(LinearClosedForm):
    """Linear (or kernel) BarlowTwins: CCA of the related pairs of G with tied weights (see the module docstring).

    Attributes: ``components_`` W (F, K) giving unit-variance columns, ``mean_``, ``eigenvalues_`` rho (K,) descending.
    """

    def _solve(self, forms: GraphForms) -> tuple[np.ndarray, np.ndarray]:
        weights, values = generalized_bottom_eigenvectors(-forms.cross / forms.total, forms.covariance / forms.n, self.n_components)
        return weights, -values
