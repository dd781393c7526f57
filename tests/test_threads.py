"""The SDK sets a passive OpenMP wait policy on import unless the user chose one or torch came first."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tryon_sdk import threads


@pytest.mark.slow
def test_importing_the_sdk_first_sets_passive():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import tryon_sdk, os, torch; print(os.environ.get('OMP_WAIT_POLICY'), tryon_sdk.threads.PASSIVE_SET_BY_SDK)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["PASSIVE", "True"]


def test_users_setting_wins(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.delitem(sys.modules, "torch")
    assert threads.configure_cpu_threads() is False
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_torch_loaded_first_is_left_alone(monkeypatch):
    # OpenMP read its settings when torch loaded; changing the variable afterwards would only mislead
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert "torch" in sys.modules
    assert threads.configure_cpu_threads() is False
    assert "OMP_WAIT_POLICY" not in os.environ


def test_unset_and_torch_not_loaded_sets_passive(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delitem(sys.modules, "torch")
    assert threads.configure_cpu_threads() is True
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
