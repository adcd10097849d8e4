"""Evaluation scripts for the bundled demo models."""
