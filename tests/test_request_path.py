"""benchmarks/request_path.py counts the functions one /labels request runs: it traces a real request."""

from __future__ import annotations

import pytest

from benchmarks import request_path


def test_trace_counts_each_repo_function_once_and_not_the_tests():
    import numpy as np

    from taming_lite.data.labels import colorize, to_onehot

    ids = np.full((4, 4), 156, np.uint8)
    calls = request_path.trace(lambda: [colorize(ids), colorize(ids), to_onehot(ids), sum(x for x in range(3))])
    names = [q for _, q in calls]
    assert names[0] == "colorize" and "to_onehot" in names
    assert len(names) == len(set(names))  # each function once, in first-call order
    assert not any(q.endswith(request_path.COMPREHENSIONS) for q in names)
    assert all(f.startswith("taming_lite/") for f, _ in calls)  # not this test, not the benchmark


@pytest.mark.slow
def test_one_labels_request_crosses_the_pipeline(capsys):
    request_path.main(["--list"])
    out = capsys.readouterr().out
    assert "| above the models |" in out
    for f in ("demos/labels.py: run", "taming_lite/pipeline.py: Pipeline.iter_sample", "Pipeline.decode"):
        assert f in out
