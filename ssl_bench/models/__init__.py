"""Networks and encoders: backbones (one module each in ``backbones/``), the normalised encoder every evaluation
sees, encoders trained elsewhere with their weights, and features extracted from any encoder."""
