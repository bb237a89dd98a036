"""taming-lite: a small, readable re-implementation of Taming Transformers (VQGAN + GPT)."""

__version__ = "0.1.0"
