"""The app's queue, seen from the outside (issue: robustness): at most CONCURRENCY sampling jobs run at
once and the rest wait; at most MAX_QUEUE jobs wait and the next is refused ("queue full"); cancelled
jobs (running and waiting) free their places and leave the server healthy for the next request.

The server's own count of waiting jobs (Gradio's /gradio_api/queue/status) is checked against the
jobs in flight, and each job's status as its client sees it. Long jobs: /depth at 256 x 256 on the
placeholder models, 4 samples (a sliding window over 32 x 32 tokens: about 16 s alone on a 2-core CPU),
so nothing finishes while the queue is inspected.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402
from gradio_client.utils import QueueError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app_server import RUNNING_CODES, AppServer, app_queue_settings, endpoint_args, example_inputs  # noqa: E402

SIZE = 64
LONG = 4 * SIZE  # /depth at this size runs for seconds: the jobs that hold the slots
SETTLE_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = AppServer(tmp_path_factory.mktemp("queue"), weights=tmp_path_factory.mktemp("no_weights")).wait()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return example_inputs(tmp_path_factory.mktemp("examples"), SIZE)


def code(job) -> str:
    return job.status().code.name


def wait_for(predicate, timeout: float, what: str) -> None:
    t0 = time.time()
    while not predicate():
        if time.time() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def long_job(srv, inputs, seed):
    c = Client(srv.url, verbose=False, download_files=False)
    return c.submit(*endpoint_args("/depth", inputs, seed=seed, size=LONG, num_samples=4), api_name="/depth")


def cancel_all(jobs) -> None:
    """Cancel every unfinished job (gradio_client POSTs /cancel; the server stops a running job at its
    next preview and drops a waiting one)."""
    t0, sent, failed = time.time(), 0, []
    for j in jobs:
        if not j.done():
            sent += 1
            try:
                j.cancel()
            except Exception as e:  # noqa: BLE001 - a slow answer to /cancel is reported; the health check decides
                failed.append(f"{type(e).__name__}: {e}")
    print(f"cancelled {sent} jobs in {time.time() - t0:.1f} s" + (f"; {len(failed)} /cancel calls failed: {failed[:3]}"
                                                                  if failed else ""))


def assert_healthy(srv, inputs):
    """Nothing left waiting, and a new request is answered at once."""
    wait_for(lambda: srv.queue_size() == 0, 60, "the queue to empty")
    c = Client(srv.url, verbose=False, download_files=False)
    t0 = time.time()
    r = c.predict(*endpoint_args("/pose", inputs, seed=3, size=SIZE), api_name="/pose")
    assert r[0] and "done" in r[-1]
    assert time.time() - t0 < 60
    assert srv.alive()


def test_at_most_concurrency_jobs_run_and_the_rest_wait(server, inputs):
    limit = app_queue_settings()[0]
    n = limit + 6
    jobs = [long_job(server, inputs, seed=i) for i in range(n)]  # one client each, like n users
    try:
        wait_for(lambda: sum(code(j) in RUNNING_CODES for j in jobs) >= limit, 60, f"{limit} jobs to start")
        wait_for(lambda: all(code(j) in RUNNING_CODES + ("IN_QUEUE",) for j in jobs), 30, "every job to be accepted")
        time.sleep(SETTLE_S)  # a job beyond the limit would have started by now
        codes = [code(j) for j in jobs]
        waiting = server.queue_size()
        print(f"\n{n} long jobs in flight: {sum(c in RUNNING_CODES for c in codes)} running, "
              f"{codes.count('IN_QUEUE')} queued (server: {waiting} waiting); limit {limit}")
        assert not any(j.done() for j in jobs), "a long job finished during the check: inconclusive"
        assert sum(c in RUNNING_CODES for c in codes) == limit, codes
        assert codes.count("IN_QUEUE") == n - limit, codes
        assert waiting == n - limit  # the server's own count: n accepted, none finished, so `limit` run
    finally:
        cancel_all(jobs)
    assert_healthy(server, inputs)  # cancelled running and waiting jobs freed their places


def test_the_queue_refuses_jobs_beyond_its_max_size(server, inputs):
    limit, max_queue = app_queue_settings()
    extra = 4
    holders = [long_job(server, inputs, seed=100 + i) for i in range(limit)]
    c = Client(server.url, verbose=False, download_files=False, max_workers=max_queue + extra + 8)
    jobs = []
    try:
        wait_for(lambda: all(code(j) in RUNNING_CODES for j in holders), 60, "the long jobs to start")
        jobs = [c.submit(*endpoint_args("/pose", inputs, seed=i, size=SIZE), api_name="/pose")
                for i in range(max_queue + extra)]
        wait_for(lambda: all(j.done() or code(j) == "IN_QUEUE" for j in jobs), 60, "every job to be queued or refused")
        refused = [j for j in jobs if j.done() and isinstance(j.exception(), QueueError)]
        waiting = server.queue_size()
        print(f"\n{len(jobs)} jobs behind {limit} running: {len(jobs) - len(refused)} queued, "
              f"{len(refused)} refused ({refused[0].exception() if refused else '-'}); server: {waiting} waiting, "
              f"max {max_queue}")
        assert all(code(j) in RUNNING_CODES for j in holders), "a long job finished during the check: inconclusive"
        assert len(refused) == extra
        assert waiting == max_queue
        assert all(not j.done() for j in jobs if j not in refused)  # the accepted ones wait, none failed
    finally:
        cancel_all(holders + jobs)
    assert_healthy(server, inputs)


def test_cancel_leaves_the_server_healthy(server, inputs):
    """A cancelled running job stops and frees its slot; the next request is answered."""
    job = long_job(server, inputs, seed=7)
    wait_for(lambda: code(job) in RUNNING_CODES, 60, "the job to start")
    time.sleep(0.5)
    job.cancel()
    assert_healthy(server, inputs)
    log = server.log_path.read_text()
    assert "Traceback" not in log or "gradio.exceptions.Error" in log
