"""Load: 8 concurrent gradio_client sessions mixing the five endpoints all get correct answers, and no chat leaks."""

import importlib.util
import sys
import time

import pytest

from conftest import ROOT

pytestmark = pytest.mark.concurrency


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_eight_sessions_mixing_all_endpoints(server):
    bench = load_bench()
    start = time.perf_counter()
    result = bench.run_load(server, sessions=8, rounds=2)  # 80 requests; each session chats twice
    print(f"\n{bench.latency_table(result)}\n{time.perf_counter() - start:.1f} s with warm-up")
    assert result["failures"] == []
    assert result["leaks"] == []
    for session in result["sessions"]:
        assert sorted(e for e, _ in session.timings) == sorted(bench.ENDPOINTS * 2)
        said = [m for m in session.history if m["role"] == "user"]
        assert len(said) == 2 and session.secret in bench.reply_text(said[0])
