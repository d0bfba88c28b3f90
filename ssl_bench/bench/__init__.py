"""The benchmark layer: suites (YAML grids of rows x datasets x seeds), cells with their outcome files, launchers
(local processes, Slurm), the results store, provenance, published references, recipe parity and the dry run."""
