"""taming-lite demo: five tabs (completion, depth, labels, super-resolution, pose) + About.

    python app.py                       # http://127.0.0.1:7860, models on the best device
    python app.py --device cpu --port 8000 --model weights/ --model depth=path/to/depth_model
    python app.py --model depth=drin --model labels=path/to/sflckr_logs   # the paper's models (docs/HUB.md)

`app.py` only assembles the tabs (one module each under demos/) around one model store
(demos/models.py ModelStore) that it creates from the command line and hands to every tab.
Importable: `build_app(store)` returns the Blocks without launching (tests). On a Hugging Face Space it runs unchanged. Each tab has a model
picker (demos/picker.py): registry entries and any Hub repo id, loaded in the background, per session.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on the network at startup

import gradio as gr  # noqa: E402

from demos import about, completion, depth, labels, models, pose, superres  # noqa: E402

TITLE = "taming-lite: VQGAN + transformer"
CONCURRENCY = int(os.environ.get("TAMING_LITE_CONCURRENCY", "2"))  # sampling jobs at once (protects a CPU)
MAX_QUEUE = 64
MAX_FILE_SIZE = "20mb"
CSS = (".placeholder-notice { border: 2px solid #e0a000; border-radius: 6px; padding: 4px 10px; background: #fff6d6; }\n"
       # a low-resolution input (8x8 px for the shipped x8 model) shown enlarged with visible pixels, not as a dot
       "#superres-input img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }")

TABS = [("Image completion", completion), ("Depth to image", depth), ("Label map to landscape", labels),
        ("Super-resolution", superres), ("Pose to human", pose)]


def build_app(store: models.ModelStore | None = None) -> gr.Blocks:
    store = store or models.ModelStore()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nA small, readable re-implementation of *Taming Transformers* "
                    "(Esser et al., CVPR 2021). Pick a tab; every tab is also an API endpoint.")
        for title, module in TABS:
            with gr.Tab(title, id=module.TASK, elem_id=f"tab-{module.TASK}"):
                module.build(store)
        with gr.Tab("About", id="about", elem_id="tab-about"):
            about.build(store)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=MAX_QUEUE)
    return demo


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="interface to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--share", action="store_true", help="create a public gradio.live link (needs internet)")
    p.add_argument("--model", action="append", default=[], metavar="DIR|TASK=DIR|TASK=NAME",
                   help="a weights root holding <task>/ folders, or one task's model: a folder (ours, or the "
                        "original *.yaml + *.ckpt), a registry name or a Hub repo id; repeatable")
    p.add_argument("--int8", action="store_true",
                   help="on the CPU, sample with int8 weight-only linears: faster steps, slightly different tokens")
    p.add_argument("--allow-local-models", action="store_true",
                   help="let the model picker and the API's `model` argument load folders on this machine by path "
                        "(off by default: on a shared server anyone could make it read any folder)")
    return p.parse_args(argv)


def make_store(args) -> models.ModelStore:
    """The app's model store from the command line (ValueError for a bad device or task)."""
    root, task_models = None, {}
    for spec in args.model:
        task, sep, path = spec.partition("=")
        if sep:
            task_models[task.strip()] = path.strip()
        else:
            root = spec
    return models.ModelStore(weights_root=root, device=args.device, task_models=task_models,
                             allow_local_folders=args.allow_local_models, int8=args.int8)


def main(argv=None):
    args = parse_args(argv)
    try:
        store = make_store(args)
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    demo = build_app(store)
    print(f"taming-lite: serving on http://{args.host}:{args.port} (device {store.device})", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE,
                show_error=False, css=CSS, theme=gr.themes.Soft())


if __name__ == "__main__":
    main()
