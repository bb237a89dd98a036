"""taming-lite: a small, readable re-implementation of Taming Transformers (VQGAN + GPT).

    from taming_lite import VQGAN, GPT, Net2NetTransformer, load_original, load_pretrained, save_pretrained
    from taming_lite import Pipeline                # a task end to end: Pipeline.from_pretrained("drin")

Submodules: vqgan (first stage), gpt (transformer + KV cache), net2net (conditional transformer),
sampling (top-k/top-p, cached and sliding-window sampling), tasks (what the five tasks are), pipeline
(a task end to end on a model), checkpoints (our format and the original's), registry (weights/registry.json), hub
(names, Hugging Face Hub), download (direct download links), device (CUDA / MPS / CPU),
data (procedural data sets), train (trainers and CLI).
"""

__version__ = "0.1.0"

_EXPORTS = {
    "VQGAN": "vqgan", "VQGANConfig": "vqgan",
    "GPT": "gpt", "GPTConfig": "gpt", "KVCache": "gpt",
    "Net2NetTransformer": "net2net", "Net2NetConfig": "net2net",
    "load_original": "checkpoints", "load_pretrained": "checkpoints", "save_pretrained": "checkpoints",
    "CheckpointError": "checkpoints",
    "from_pretrained": "hub", "list_models": "hub", "HubUnavailable": "hub", "ModelNotFoundError": "hub",
    "pick_device": "device",
    "Pipeline": "pipeline", "TASKS": "tasks",
    "sample_sliding_window": "sampling", "filter_logits": "sampling",
}


def __getattr__(name):  # lazy: `import taming_lite.data` does not pull in torch
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'taming_lite' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
