"""The typed validation helpers every options record uses: the value back, or a ConfigError naming it."""

import math

import pytest

from tryon_sdk import EngineOptions
from tryon_sdk.errors import ConfigError
from tryon_sdk.validate import at_least, in_range, is_bool, one_of


def test_helpers_return_good_values():
    assert one_of("runtime", "torch", ("auto", "torch")) == "torch"
    assert in_range("ratio", 1, 0.0, 1.0) == 1.0 and isinstance(in_range("ratio", 1, 0.0, 1.0), float)
    assert at_least("workers", 3, 1) == 3
    assert is_bool("mirrored", False) is False


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: one_of("runtime", "tensorrt", ("auto", "torch")), "unknown runtime 'tensorrt'; valid: auto, torch"),
        (lambda: in_range("ratio", 1.5, 0.0, 1.0), r"ratio must be in \[0.0, 1.0\], got 1.5"),
        (lambda: in_range("scale", 0.0, 0.0, 1.0, lo_open=True), r"scale must be in \(0.0, 1.0\]"),
        (lambda: in_range("ratio", math.nan, 0.0, 1.0), "ratio must be in"),
        (lambda: in_range("ratio", "high", 0.0, 1.0), "ratio must be a number, got str"),
        (lambda: at_least("workers", 0, 1), "workers must be an integer >= 1, got 0"),
        (lambda: at_least("workers", True, 1), "workers must be an integer >= 1, got True"),
        (lambda: is_bool("mirrored", 1), "mirrored must be True or False, got 1"),
    ],
)
def test_helpers_name_the_option_and_what_is_valid(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_engine_options_use_them():
    with pytest.raises(ConfigError, match="unknown runtime 'trt'; valid: auto, torch, onnxruntime"):
        EngineOptions(runtime="trt")
    with pytest.raises(ConfigError, match="unknown precision 'fp8'"):
        EngineOptions(precision="fp8")
    assert EngineOptions(precision="int8", runtime="onnxruntime").precision == "int8"
