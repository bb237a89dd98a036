"""The "About" tab: the method in five sentences and a diagram."""

from __future__ import annotations

import gradio as gr

from . import models

ABOUT = """## Taming Transformers, in five sentences
1. A **VQGAN** (convolutional encoder, codebook, decoder) compresses an image into a small grid of
   discrete tokens, each the index of its nearest codebook vector, and decodes tokens back to pixels.
2. A **GPT** transformer learns the probability of each image token given the tokens before it in
   raster order and a **condition**: the tokens of a second VQGAN applied to a depth map, a label
   map, a low-resolution image or a pose skeleton (or a single start token for completion).
3. **Sampling** draws the image tokens one at a time (temperature, top-k, top-p) and the VQGAN
   decoder turns the finished grid into an image.
4. For images **larger than the transformer's window**, each token is predicted from a window of
   known tokens around it, with the condition cropped at the same place (sliding attention window).
5. The same two-stage recipe serves all five tabs; only the condition changes.

```
 condition ──► cond VQGAN ──► c tokens ─┐
                                         ├─► GPT (sample one token at a time) ──► image tokens ──► VQGAN decoder ──► image
 (given image tokens, completion only) ──┘
```
Paper: Esser, Rombach, Ommer, *Taming Transformers for High-Resolution Image Synthesis*, CVPR 2021.
Every tab is also an API endpoint (see "Use via API" at the bottom of the page and `docs/APP.md`).
"""


def status_markdown(store) -> str:
    rows = ["| tab | weights |", "|---|---|"]
    for task in models.TASKS:
        name = store.default_name(task)
        rows.append(f"| {task} | {'`' + name + '`' if name else '⚠️ untrained placeholder (random init)'} |")
    return "\n".join(rows)


def build(store):
    gr.Markdown(ABOUT)
    gr.Markdown("### Models in use\n" + status_markdown(store))
