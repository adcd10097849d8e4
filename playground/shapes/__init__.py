"""Synthetic "shapes world": scene generator, captions, and a pixel reader."""
