"""Gradio UI: one module per tab; each builds components and wires events, with no model code."""
