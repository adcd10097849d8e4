"""The generative AI playground: explore chat, image, and speech models in one local web app."""

__version__ = "0.1.0"
