"""Training scripts for the bundled shapes-world demo models (run with ``python -m``)."""
