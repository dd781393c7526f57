"""The documentation: README shape, the API reference's coverage, the generated benchmarks page, the site build.

Snippets in README.md and docs/ are run by ``tests/test_readme.py``.
"""

from __future__ import annotations

import importlib.util
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tryon_sdk
import tryon_sdk.video

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
MODEL_CARD = REPO / "MODEL_CARD.md"
REFERENCE = REPO / "docs" / "reference"
TEST_COMMAND = 'pip install -e ".[dev]" && pytest'
DEMO_COMMAND = "pip install -e . && tryon-sdk demo"

# What a user's document must not carry: a run log's wording, machines' paths, commit ids.
LOG_WORDING = re.compile(
    r"alternating in one run|previous code|on a slow day|slower day|while a training job|shared the cores|"
    r"measured by|this machine|/work/|\.\./shared|\bcommit [0-9a-f]{7,}\b|noisy machine",
    re.IGNORECASE,
)


def directives() -> set[str]:
    names = set()
    for page in REFERENCE.glob("*.md"):
        names.update(re.findall(r"^:::\s*([\w.]+)", page.read_text(), flags=re.M))
    return names


def video_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages(tryon_sdk.video.__path__, "") if not m.ispkg and not m.name.split(".")[-1].startswith("_")
    )


def test_readme_is_short_and_starts_with_the_two_setup_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    first_bash = re.search(r"^```bash\n(.*?)^```", text, flags=re.S | re.M).group(1).splitlines()
    assert first_bash[0].startswith(DEMO_COMMAND + " ") and first_bash[1].startswith(TEST_COMMAND + " ")
    assert "docs/images/hero.png" in text and "MODEL_CARD.md" in text and "docs/benchmarks.md" in text
    for credit in ("Clothing Co-Parsing", "Intel IoT DevKit", "tfjs-models", "MediaPipe"):
        assert credit in text


@pytest.mark.parametrize("path", [README, MODEL_CARD], ids=lambda p: p.name)
def test_no_run_log_or_machine_paths(path):
    found = LOG_WORDING.findall(path.read_text())
    assert not found, f"{path.name} reads like a run log: {found}"


def test_ci_builds_the_docs_then_runs_the_readme_test_command_verbatim():
    lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert lines[-1] == TEST_COMMAND and TEST_COMMAND in README.read_text()
    build = next(i for i, ln in enumerate(lines) if "mkdocs build" in ln and "--strict" in ln)
    install = next(i for i, ln in enumerate(lines) if ln.startswith('pip install -e ".[dev]"'))
    assert install < build < len(lines) - 1


def test_api_reference_covers_every_public_name():
    documented = directives()
    missing = [n for n in tryon_sdk.__all__ if f"tryon_sdk.{n}" not in documented]
    assert not missing, f"add ::: tryon_sdk.NAME to docs/reference/index.md for {missing}"
    missing = [m for m in video_modules() if f"tryon_sdk.video.{m}" not in documented]
    assert "tryon_sdk.video" in documented and not missing, f"add ::: tryon_sdk.video.MODULE to docs/reference/video.md for {missing}"


def test_benchmarks_page_is_generated_from_the_results():
    spec = importlib.util.spec_from_file_location("bench_report", REPO / "benchmarks" / "report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    data = json.loads((REPO / "benchmarks" / "results.json").read_text())
    assert (REPO / "docs" / "benchmarks.md").read_text() == report.render(data), "run python benchmarks/report.py"
    assert report.goal_met(0.95, ">= 0.9") == "yes" and report.goal_met(1.2, "<= 1.10") == "**no**"
    assert report.goal_met(1.0, "report") == ""


@pytest.mark.slow
def test_site_builds_strictly_and_shows_every_public_name(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                         cwd=REPO, capture_output=True, text=True, env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    html = (site / "reference" / "index.html").read_text()
    missing = [n for n in tryon_sdk.__all__ if f'id="tryon_sdk.{n}"' not in html]
    assert not missing, f"not rendered in the API reference: {missing}"
    video = (site / "reference" / "video" / "index.html").read_text()
    assert all(f'id="tryon_sdk.video.{m}"' in video for m in video_modules())


def test_readme_and_cli_page_list_every_command():
    from tryon_sdk import commands

    import importlib

    mods = [importlib.import_module(f"{commands.__name__}.{m.name}") for m in pkgutil.iter_modules(commands.__path__)]
    names = [mod.NAME for mod in mods if hasattr(mod, "NAME")]
    readme, cli_page = README.read_text(), (REPO / "docs" / "cli.md").read_text()
    for name in names:
        assert f"| `tryon-sdk {name}" in readme, f"README's command table lacks tryon-sdk {name}"
        assert f"| `tryon-sdk {name}" in cli_page, f"docs/cli.md's command table lacks tryon-sdk {name}"
