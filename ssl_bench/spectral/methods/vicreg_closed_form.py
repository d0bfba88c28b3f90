"""VICReg's closed form (Balestriero & LeCun 2022, Prop 1, Thm 1-2): :mod:`ssl_bench.spectral.linear_closed_forms`."""

from __future__ import annotations

import numpy as np

from ssl_bench.data.graph import SearchMethod
from ssl_bench.spectral.base import SPECTRAL_METHODS
from ssl_bench.spectral.linear_closed_forms import GraphForms, LinearClosedForm
from ssl_bench.spectral.methods.lpp import generalized_bottom_eigenvectors


@SPECTRAL_METHODS.register("vicreg-closed-form")
class VICRegClosedForm(LinearClosedForm):
    """Linear (or kernel, on a feature map) hard-constrained VICReg; soft with ``invariance_weight`` set.

    Attributes: ``components_`` W (F, K), ``mean_`` (F,), ``eigenvalues_`` lambda (K,) ascending (Dirichlet energy
    per unit variance), ``column_std_`` s_k (K,). Reference: Balestriero & LeCun, NeurIPS 2022, Prop 1, Thm 1-2.

    Examples
    --------
    Three noisy views of each of 20 images, related by the views graph; new rows embed as (x - mean) W:

    >>> import numpy as np
    >>> from ssl_bench.data.graph import views_graph
    >>> rng = np.random.default_rng(0)
    >>> images = rng.normal(size=(20, 6))
    >>> views = np.concatenate([images + 0.1 * rng.normal(size=images.shape) for _ in range(3)])
    >>> estimator = VICRegClosedForm(n_components=2).fit(views, graph=views_graph(20, 3))
    >>> estimator.components_.shape, estimator.transform(images).shape
    ((6, 2), (20, 2))
    """

    def __init__(self, n_components: int = 32, reg: float = 0.1, invariance_weight: float | None = None, variance_weight: float = 25.0,
                 eps: float = 1e-4, n_neighbors: int = 10, knn_method: SearchMethod = "exact", random_state: int = 0) -> None:
        super().__init__(n_components, reg, n_neighbors, knn_method, random_state)
        self.invariance_weight = invariance_weight
        self.variance_weight = variance_weight
        self.eps = eps

    def _solve(self, forms: GraphForms) -> tuple[np.ndarray, np.ndarray]:
        weights, values = generalized_bottom_eigenvectors(forms.dirichlet, forms.covariance, self.n_components)
        values = np.maximum(values, 0.0)
        if self.invariance_weight is None:
            self.column_std_ = np.ones(self.n_components)
            variance = self.column_std_**2
        else:
            if self.invariance_weight <= 0 or self.variance_weight <= 0:
                raise ValueError("invariance_weight and variance_weight must be positive")
            threshold = self.variance_weight * forms.total / (4.0 * self.invariance_weight * (forms.n - 1))
            with np.errstate(divide="ignore"):
                self.column_std_ = np.clip(threshold / values, np.sqrt(self.eps), 1.0)
            variance = self.column_std_**2 - self.eps
        return weights * np.sqrt((forms.n - 1) * np.maximum(variance, 0.0)), values
