"""Dataset readers, transforms, targets, labels and synthetic people."""
