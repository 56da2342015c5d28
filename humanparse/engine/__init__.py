"""Training and evaluation: the trainer, checkpoints, resume, distributed set-up, evaluation and its reports."""
