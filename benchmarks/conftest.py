"""Shared benchmark helpers: ratios between benchmarks measured in one run.

A benchmark records its mean time with ``record(name, benchmark)``; a file
states a ratio with ``ratio(label, numerator, denominator, goal)``. At the end
of the run the ratios are printed and written, with the machine they came
from, to ``benchmarks/results.json`` (or ``$TRYON_BENCH_RESULTS``).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pytest
import torch

_TIMES: dict[str, float] = {}
_RATIOS: list[tuple[str, str, str, str]] = []


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
    if not _TIMES:
        return
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
    machine = {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(), "torch": torch.__version__}
    out.write_text(json.dumps({"machine": machine, "times_s": _TIMES, "ratios": rows}, indent=2))
    terminalreporter.write_line(f"written to {out}")
