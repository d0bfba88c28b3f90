"""An ssl-bench plugin package: ``my-method`` (a method) and ``nearest-centroid`` (an evaluation)."""
