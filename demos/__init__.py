"""Gradio tabs of the taming-lite demo: one module per tab; app.py assembles them."""
