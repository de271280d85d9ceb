"""Training: configuration, parameter initialization, the fitting loop and checkpoints."""
