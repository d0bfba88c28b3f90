"""SSL methods: a projector plus a loss each, in a registry (see :mod:`ssl_bench.methods.base`)."""
