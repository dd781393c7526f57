"""The run's record: ``metrics.jsonl`` lines and the ``curves.png`` drawn from them."""

from __future__ import annotations

import json
from pathlib import Path

from tryon_sdk.outputs import atomic_path

__all__ = ["log_metrics", "plot_curves"]


def log_metrics(path: Path, record: dict) -> None:
    """Append one JSON line to ``metrics.jsonl``."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def plot_curves(metrics_path: Path, out_png: Path) -> None:
    """Loss, LR and val mIoU curves from ``metrics.jsonl`` into a PNG (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    tr = [r for r in rows if r.get("kind") == "train"]
    ev = [r for r in rows if r.get("kind") == "eval"]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    if tr:
        ax[0].plot([r["step"] for r in tr], [r["loss"] for r in tr], lw=0.8)
        ax[1].plot([r["step"] for r in tr], [r["lr"] for r in tr])
    if ev:
        ax[2].plot([r["step"] for r in ev], [r["mean_iou"] for r in ev], "o-", label="val mIoU")
        ax[2].plot([r["step"] for r in ev], [r["pixel_accuracy"] for r in ev], "s-", label="val pixel acc")
        ax[2].legend()
    for a, t in zip(ax, ("train loss (CE + Dice)", "learning rate", "validation")):
        a.set_title(t)
        a.set_xlabel("step")
        a.grid(alpha=0.3)
    fig.tight_layout()
    try:
        with atomic_path(out_png) as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
