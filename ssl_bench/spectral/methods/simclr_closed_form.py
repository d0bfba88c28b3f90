"""SimCLR's closed form, classical MDS of G + I in Z = X W (Thm 5 / Prop 2): :mod:`ssl_bench.spectral.linear_closed_forms`."""

from __future__ import annotations

import numpy as np

from ssl_bench.spectral.base import SPECTRAL_METHODS
from ssl_bench.spectral.linear_closed_forms import GraphForms, LinearClosedForm
from ssl_bench.spectral.methods.lpp import generalized_bottom_eigenvectors


@SPECTRAL_METHODS.register("simclr-closed-form")
class SimCLRClosedForm(LinearClosedForm):
    """Linear (or kernel) SimCLR read as classical MDS of G + I restricted to Z = X W (see the module docstring).

    Attributes: ``components_`` W diag(sqrt(sigma)) (F, K), ``mean_``, ``eigenvalues_`` sigma (K,) descending.
    """

    def _solve(self, forms: GraphForms) -> tuple[np.ndarray, np.ndarray]:
        weights, values = generalized_bottom_eigenvectors(-forms.similarity, forms.covariance, self.n_components)
        sigma = -values
        return weights * np.sqrt(np.maximum(sigma, 0.0)), sigma
