"""Training: ``TrainConfig``, the loop (devices, AMP, DDP, atomic checkpoints, exact resume), the optimisers (one
module each in ``optimizers/``), a run directory read back, and what a configuration really trains."""
