"""Shared benchmark helpers: ratios between benchmarks measured in one run.

A benchmark records its mean time with ``record(name, benchmark)``; a file
states a ratio with ``ratio(label, numerator, denominator, goal)``. At the end
of a timed run (``--benchmark-enable``) the ratios are printed and merged into
``benchmarks/results.json`` (or ``$TRYON_BENCH_RESULTS``): each figure this run
measured replaces the one of the same name, and records the run it came from
(``runs[id]``: UTC date, commit, machine, threads, load average), so a run of one benchmark
file keeps the other files' figures. ``python benchmarks/report.py`` renders
``docs/benchmarks.md`` from that file (both are committed).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

import pytest
import torch

_TIMES: dict[str, float] = {}
_RATIOS: list[tuple[str, str, str, str]] = []

#: Benchmarks whose untimed smoke run (plain ``pytest``) takes more than ~5 s on 2 CPU cores, marked ``slow``
#: here so that the bench files stay as they are: per file, the test names, or ``None`` for every test (the
#: cost is a module fixture they share). ``pytest -m "not slow"`` leaves them out.
SLOW: dict[str, set[str] | None] = {
    "bench_batch.py": {"test_batch_images_per_second[2 workers]", "test_batch_images_per_second[ray local, 2 actors]"},
    "bench_facing.py": None,  # finding a standing frame in the real clip: ~15 s before the first test
    "bench_memory.py": None,
    "bench_onnx.py": None,  # the model exported and quantised once for the module: ~9 s
    "bench_parser.py": None,
    "bench_pipeline.py": None,
}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        path = Path(item.path).resolve()
        if path.parent == here and path.name in SLOW and (SLOW[path.name] is None or item.name in SLOW[path.name]):
            item.add_marker(pytest.mark.slow)


def _mean(benchmark) -> float | None:
    stats = getattr(benchmark, "stats", None)
    if not stats:
        return None
    inner = getattr(stats, "stats", stats)
    return float(inner.mean)


@pytest.fixture(scope="session")
def record():
    def _record(name: str, benchmark) -> None:
        mean = _mean(benchmark)
        if mean is not None:
            _TIMES[name] = mean

    return _record


@pytest.fixture(scope="session")
def ratio():
    def _ratio(label: str, numerator: str, denominator: str, goal: str = "") -> None:
        _RATIOS.append((label, numerator, denominator, goal))

    return _ratio


def pytest_terminal_summary(terminalreporter):
    opt = terminalreporter.config.getoption
    if not _TIMES or (opt("benchmark_disable", False) and not opt("benchmark_enable", False)):
        return  # nothing timed, or the untimed smoke run: its figures are not kept
    lines, rows = [], []
    for label, num, den, goal in _RATIOS:
        if num in _TIMES and den in _TIMES:
            value = _TIMES[num] / _TIMES[den]
            rows.append({"ratio": label, "value": value, "numerator": num, "denominator": den, "goal": goal})
            lines.append(f"{label:55s} {value:8.3f}   goal {goal}")
    terminalreporter.section("tryon_sdk ratios (measured in this run)")
    for name, t in sorted(_TIMES.items()):
        terminalreporter.write_line(f"{name:55s} {t * 1e3:9.2f} ms")
    for line in lines:
        terminalreporter.write_line(line)
    out = Path(os.environ.get("TRYON_BENCH_RESULTS", Path(__file__).parent / "results.json"))
    merge_results(out, _TIMES, rows)
    terminalreporter.write_line(f"merged into {out}")


def _commit() -> str:
    """The checkout's short commit id, ``+dirty`` when it has uncommitted changes (``unknown`` outside git)."""
    repo = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def merge_results(path: Path, times: dict[str, float], ratios: list[dict]) -> dict:
    """Merge one run's times and ratios into the results file at ``path`` and return its content.

    Layout: ``{"runs": {id: {date, commit, machine, threads, torch}}, "times_s": {name: {value, run}},
    "ratios": {label: {value, numerator, denominator, goal, run}}}``.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data.get("runs"), dict):  # the earlier one-run layout: start afresh
        data = {}
    now = datetime.datetime.now(datetime.timezone.utc)
    run_id = now.strftime("%Y%m%dT%H%M%SZ")
    data.setdefault("runs", {})[run_id] = {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, {platform.system()}",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        # other work on the machine at the end of the run: times are only comparable on a quiet machine
        "load_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "cpus": os.cpu_count(),
    }
    data.setdefault("times_s", {}).update({name: {"value": t, "run": run_id} for name, t in times.items()})
    data.setdefault("ratios", {}).update(
        {row["ratio"]: {k: v for k, v in row.items() if k != "ratio"} | {"run": run_id} for row in ratios}
    )
    used = {e["run"] for e in data["times_s"].values()} | {e["run"] for e in data["ratios"].values()}
    data["runs"] = {k: v for k, v in data["runs"].items() if k in used}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data
