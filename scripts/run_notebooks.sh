#!/usr/bin/env bash
# Re-execute the notebooks in place (fast mode unless TAMING_LITE_FAST=0), so the committed versions show their outputs.
#   scripts/run_notebooks.sh                       # all of notebooks/[0-9]*.ipynb
#   scripts/run_notebooks.sh notebooks/03_five_tasks.ipynb
#   TAMING_LITE_FAST=0 scripts/run_notebooks.sh    # full mode: the committed outputs (minutes to ~30 min each on a CPU)
# Needs nbclient, nbformat, ipykernel (requirements-dev.txt) and a registered "python3" kernel
# (`python -m ipykernel install --user` if `jupyter kernelspec list` does not show one).
set -euo pipefail
cd "$(dirname "$0")/.."
export TAMING_LITE_FAST="${TAMING_LITE_FAST:-1}" PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False
if [ "$#" -eq 0 ]; then set -- notebooks/[0-9]*.ipynb; fi
python - "$@" <<'PY'
import sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

failed = []
for path in map(Path, sys.argv[1:]):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    t = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as e:
        failed.append(path)
        print(f"FAILED {path}: {str(e).splitlines()[0] if str(e) else e}", flush=True)
    finally:
        for cell in nb.cells:  # no per-run noise in the committed files
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(nb, path)
    print(f"{path}: {time.perf_counter() - t:.1f} s", flush=True)
if failed:
    sys.exit(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}")
PY
