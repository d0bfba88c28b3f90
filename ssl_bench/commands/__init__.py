"""CLI sub-commands, one module each (discovered by :mod:`ssl_bench.cli`)."""
