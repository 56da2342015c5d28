"""Training, evaluation with test-time augmentation, inference, checkpoints, distributed set-up."""
