"""One training run: the trial, its callbacks and its diagnostics."""
