#!/usr/bin/env bash
# CUDA fp16 check of the released-model path, in one run of at most ~5 minutes (needs a CUDA GPU):
#   1. greedy agreement of CUDA fp16 with CPU fp32 (narrow D-RIN-shaped stand-in, 256 tokens after 256);
#   2. tokens/s of a 24 x 1024 GPT (the released size, random weights) in fp16 with the KV cache, one
#      16x16 image after 256 condition tokens (the one-token decode step GPT.decode_one, and the general cached
#      forward for comparison, with whether their tokens agree), and a 16x48 grid through the sliding window;
#   3. the depth tab through gradio_client on CUDA (stand-in as --model depth=DIR): a 256x256 image, status
#      naming cuda and float16.
#   4. the completion tab's comparison (one /complete call): a taming transformer and a pixel baseline on the
#      same upper half of the cat photo, side by side, with their times. By default narrow stand-ins (a
#      Labelator-conditioned cin transformer, a tiny random Image-GPT) picked by folder; with
#      GPU_CHECK_REAL=1 the real `cin_transformer` (ImageNet class 281, tabby) beside `openai/imagegpt-large`,
#      downloaded if not cached (~17 GB + ~5.6 GB: give it GPU_CHECK_TIMEOUT=3600), and the image written to
#      docs/samples/completion_imagegpt_vs_cin.png to commit.
#   5. photo -> depth -> image (one /depth call with a photo and a depth preprocessor, taming_lite.photo): the
#      cat photo, a tiny random DPT and the D-RIN stand-in; with GPU_CHECK_REAL=1 `Intel/dpt-hybrid-midas`
#      (~0.5 GB) and `drin` (~4 GB), downloaded if not cached. The detected depth map first, then the sample.
#     bash scripts/gpu_check.sh                 # prints a report; exit status 1 if a check fails
#     GPU_CHECK_DEVICE=cpu bash scripts/gpu_check.sh   # rehearsal of the mechanics on the CPU (fp32, small)
#     GPU_CHECK_REAL=1 GPU_CHECK_TIMEOUT=3600 bash scripts/gpu_check.sh   # + the video's comparison, for real
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
timeout "${GPU_CHECK_TIMEOUT:-300}" python - "$WORK" <<'EOF'
import os, sys, time, json, subprocess
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, "tests")
import released
from taming_lite.gpt import GPT, GPTConfig
from taming_lite.pipeline import Pipeline
from taming_lite.sampling import sample_sliding_window, sample_tokens

work = Path(sys.argv[1])
dev = os.environ.get("GPU_CHECK_DEVICE", "cuda")
if dev == "cuda" and not torch.cuda.is_available():
    sys.exit("gpu_check: CUDA is not available here (set GPU_CHECK_DEVICE=cpu for a rehearsal)")
rehearsal = dev != "cuda"
failures = []
print(f"device {dev}: {torch.cuda.get_device_name() if dev == 'cuda' else 'cpu (rehearsal)'} · torch {torch.__version__}")

# 1. greedy agreement, CUDA fp16 vs CPU fp32, on the same stand-in and the same condition
folder = work / "drin"
released.write(folder, "depth", seed=0)
cpu = Pipeline.from_pretrained(str(folder), device="cpu")
gpu = Pipeline.from_pretrained(str(folder), device=dev)
print(f"1. stand-in on {dev}: dtype {gpu.dtype}")
depth = np.tile(np.linspace(0, 1, 64, dtype=np.float32)[:, None], (1, 64))
job_c, job_g = cpu.prepare(depth, (256, 256)), gpu.prepare(depth, (256, 256))
same_cond = (job_c.cond == job_g.cond.cpu()).float().mean().item()
greedy = lambda p, j: sample_tokens(p.model.transformer, j.cond.reshape(1, -1), 256, sample=False)[:, 256:].cpu()
tc, tg = greedy(cpu, job_c), greedy(gpu, job_g)
agree = (tc == tg).float().mean().item()
first_diff = int((tc != tg).nonzero()[0, 1]) if (tc != tg).any() else 256
print(f"   condition tokens equal: {same_cond:.1%}; greedy image tokens equal: {agree:.1%} "
      f"(first difference at token {first_diff})")
if same_cond < 0.95 or agree < 0.5:
    failures.append("fp16 tokens disagree with fp32 more than expected")

# 2. throughput of the released-size GPT
size = dict(n_layer=24, n_head=16, n_embd=1024) if not rehearsal else dict(n_layer=2, n_head=2, n_embd=64)
gpt = GPT(GPTConfig(vocab_size=1024, block_size=512, **size)).eval().to(dev, gpu.dtype)
prefix = torch.randint(0, 1024, (1, 256), device=dev)
gen = lambda: torch.Generator(device="cpu").manual_seed(0)
sample_tokens(gpt, prefix, 8, top_k=100, sample=True, generator=gen())  # warm-up
sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
runs = {}
for fast in (False, True):  # the general cached forward for every token, then GPT.decode_one (the default)
    gpt.fast_decode = fast
    sync(); t = time.perf_counter()
    out = sample_tokens(gpt, prefix, 256, top_k=100, sample=True, generator=gen())
    sync(); runs[fast] = (out, time.perf_counter() - t)
s = runs[True][1]
print(f"2. GPT {size['n_layer']} x {size['n_embd']} {gpu.dtype}: one 16x16 image (256 tokens after 256) in {s:.2f} s "
      f"= {256 / s:.0f} tokens/s with decode_one; {runs[False][1]:.2f} s with the general cached forward; "
      f"same tokens: {torch.equal(runs[True][0], runs[False][0])}")
cond = torch.randint(0, 1024, (1, 16, 48), device=dev)
z = torch.zeros((1, 16, 48), dtype=torch.long, device=dev)
sync(); t = time.perf_counter()
sample_sliding_window(gpt, cond, z, window=(16, 16), top_k=100, generator=gen())
sync(); s = time.perf_counter() - t
print(f"   sliding window, 16 x 48 tokens (256 x 768 px): {s:.2f} s = {768 / s:.0f} tokens/s")

# 3. the depth tab through the HTTP API
from app_server import free_port
from gradio_client import Client, handle_file
from PIL import Image

Image.fromarray((depth * 255).astype(np.uint8)).save(work / "depth.png")
real = os.environ.get("GPU_CHECK_REAL", "0") == "1"
env = dict(os.environ, TAMING_LITE_EXAMPLES=str(work / "examples"), TAMING_LITE_PREVIEWS="1",
           HF_HUB_OFFLINE="0" if real else "1")
port = free_port()
proc = subprocess.Popen([sys.executable, "app.py", "--device", dev, "--port", str(port), "--model", str(work / "none"),
                         "--model", f"depth={folder}", "--allow-local-models"], env=env,
                        stdout=open(work / "app.log", "w"), stderr=subprocess.STDOUT)
try:
    import urllib.request
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    t = time.perf_counter()
    r = client.predict(handle_file(str(work / "depth.png")), False, 0, 1.0, 100, 1.0, 1, 256, 256, None, "",
                       api_name="/depth")
    img = np.asarray(Image.open(r[0][0]["image"]))
    want = f"on {dev} ({str(gpu.dtype).removeprefix('torch.')})"
    print(f"3. depth tab via gradio_client: {img.shape[1]}x{img.shape[0]} in {time.perf_counter() - t:.1f} s; "
          f"status: {next((l for l in r[-1].splitlines() if 'done' in l), r[-1])[:160]}")
    if img.shape[:2] != (256, 256) or want not in r[-1]:
        failures.append(f"the tab did not answer a 256x256 image with '{want}' in its status")

    # 4. the completion tab's comparison: taming model and pixel baseline on the same upper half, same seed
    if real:
        taming, pixels = "cin_transformer", "openai/imagegpt-large"
    else:
        from taming_lite import imagegpt
        igpt = work / "imagegpt"
        m, proc_ = imagegpt.tiny_random(32, 512)
        m.save_pretrained(igpt)
        proc_.save_pretrained(igpt)
        cin = work / "cin"
        released.write(cin, "cin", seed=0, yaml_name=released.CIN_YAML)
        taming, pixels = str(cin), str(igpt)
    t = time.perf_counter()
    gallery, cut, base, info = client.predict(handle_file("demos/photos/chelsea.jpg"), 8, 0, 1.0, 600, 0.92, 1,
                                            256, 256, taming, pixels, 281, api_name="/complete")
    ours, theirs = np.asarray(Image.open(gallery[0]["image"]).convert("RGB")), None
    if base is not None:
        theirs = np.asarray(Image.open(base).convert("RGB"))
    lines = [l for l in info.splitlines() if "taming transformer (codes)" in l or "pixel baseline" in l]
    print(f"4. completion comparison ({'real models' if real else 'stand-ins'}) in {time.perf_counter() - t:.1f} s:")
    for line in lines:
        print(f"   {line.lstrip('- ')[:220]}")
    if ours.shape[:2] != (256, 256) or theirs is None or theirs.shape[:2] != (256, 256) or want not in info:
        failures.append("the completion tab did not give both 256x256 panels on the device")
    elif real:
        given = np.asarray(Image.open(cut).convert("RGB"))
        sheet = np.concatenate([given, theirs, ours], axis=1)
        Image.fromarray(sheet).save("docs/samples/completion_imagegpt_vs_cin.png")
        print("   wrote docs/samples/completion_imagegpt_vs_cin.png (given upper half | Image-GPT large | "
              "cin_transformer)")

    # 5. photo -> depth -> image: the depth estimator on the device, then the depth tab's model
    from taming_lite import photo
    if real:
        estimator, model = "Intel/dpt-hybrid-midas", "drin"
    else:
        estimator, model = str(photo.save_tiny("depth", work / "dpt")), ""
    t = time.perf_counter()
    r = client.predict(None, False, 0, 1.0, 100, 1.0, 1, 256, 256, None, model, 1.0,
                       handle_file("demos/photos/chelsea.jpg"), estimator, api_name="/depth")
    caps = [g["caption"] for g in r[0]]
    took = next((l for l in r[-1].splitlines() if "estimated from the photo" in l), "")
    print(f"5. photo -> depth -> {model or 'stand-in'} in {time.perf_counter() - t:.1f} s: gallery {caps}; "
          f"{took.lstrip('- ')[:160]}")
    if caps[:1] != ["detected depth map"] or len(caps) != 2 or want not in r[-1] or f"on {dev}" not in took:
        failures.append("photo -> depth -> image did not give the detected map and a sample on the device")
finally:
    proc.terminate()
    proc.wait(20)

print("gpu_check:", "FAILED: " + "; ".join(failures) if failures else "all checks passed")
sys.exit(1 if failures else 0)
EOF
