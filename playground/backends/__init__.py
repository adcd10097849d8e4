"""Engines shared by several tasks: the OpenAI-compatible client and its remote models."""
