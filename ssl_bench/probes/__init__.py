"""The symmetry-equivariance probe: parametrised group actions (one module each in ``transforms/``), invariance,
fitted linear equivariance maps, group composition and parameter recovery, and the files a probe writes."""
