"""Model wrappers, one module per task."""
