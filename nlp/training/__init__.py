"""Training and evaluation of the sentiment models (not needed for inference)."""
