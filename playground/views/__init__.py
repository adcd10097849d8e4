"""What the tabs draw from results (the X/Y grid, the token choices, the pictures of sound): views only, so the
models and the run code never import them (``make lint`` checks)."""
