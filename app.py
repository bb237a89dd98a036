"""taming-lite demo: five tabs (completion, depth, labels, super-resolution, pose) + About.

    python app.py                       # http://127.0.0.1:7860, models on the best device
    python app.py --device cpu --port 8000 --model weights/ --model depth=path/to/depth_model
    python app.py --model depth=drin --model labels=path/to/sflckr_logs   # the paper's models (docs/HUB.md)
    python app.py --online              # let the pickers download (the default on a Hugging Face Space)

`app.py` only assembles the tabs (one module each under demos/) around one model store
(demos/models.py ModelStore) that it creates from the command line and hands to every tab.
Importable: `build_app(store)` returns the Blocks without launching (tests). On a Hugging Face Space it runs unchanged. Each tab has a model
picker (demos/picker.py): registry entries and any Hub repo id, loaded in the background, per session.

Network: downloads are off by default on your machine (HF_HUB_OFFLINE=1: nothing waits on the network)
and on on a Space (SPACE_ID set), where the paper's models are what users come for; HF_HUB_OFFLINE in
the environment decides over both, and --online / --offline over everything. The pickers' status line
says which mode the app is in and how to change it.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# set before gradio imports huggingface_hub, which reads it once: offline here, online on a Space
os.environ.setdefault("HF_HUB_OFFLINE", "0" if os.environ.get("SPACE_ID") else "1")

import gradio as gr  # noqa: E402

from demos import about, completion, depth, labels, models, picker, pose, superres  # noqa: E402

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
    net = p.add_mutually_exclusive_group()
    net.add_argument("--online", action="store_true",
                     help="let the model pickers download from the Hub and the paper's links (the default on a Space)")
    net.add_argument("--offline", action="store_true",
                     help="no downloads: embedded models, folders and the cache only (the default elsewhere)")
    int8 = {"1": True, "0": False}.get(os.environ.get("TAMING_LITE_INT8", ""))
    p.add_argument("--int8", action=argparse.BooleanOptionalAction, default=int8,
                   help="on the CPU, sample with int8 weight-only linears: faster steps, slightly different tokens. "
                        "Default: on for released-size models (>= 50 M parameters), off for the embedded ones; "
                        "--no-int8 (or TAMING_LITE_INT8=0) keeps every model in fp32, --int8 (=1) quantizes all")
    p.add_argument("--allow-local-models", action="store_true",
                   help="let the model picker and the API's `model` argument load folders on this machine by path "
                        "(off by default: on a shared server anyone could make it read any folder)")
    return p.parse_args(argv)


def set_downloads(online: bool) -> None:
    """Downloads on or off for this process: HF_HUB_OFFLINE, read at each call by taming_lite, and
    huggingface_hub's copy of it, read once at its import."""
    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = "0" if online else "1"
    constants.HF_HUB_OFFLINE = not online


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
    if args.online or args.offline:
        set_downloads(args.online)
    try:
        store = make_store(args)
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    demo = build_app(store)
    mode = "off (HF_HUB_OFFLINE=1)" if picker.downloads_off() else "on"
    print(f"taming-lite: serving on http://{args.host}:{args.port} (device {store.device}; downloads {mode})",
          flush=True)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE,
                show_error=False, css=CSS, theme=gr.themes.Soft())


if __name__ == "__main__":
    main()
