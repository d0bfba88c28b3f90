"""The spectral methods, one module each, registered in :data:`ssl_bench.spectral.base.SPECTRAL_METHODS` under the
name of their file (a plugin package: :mod:`ssl_bench.core.registry`)."""

NOT_PLUGINS = ()
