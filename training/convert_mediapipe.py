"""Convert MediaPipe's person and face models (Apache-2.0) to ONNX for the people stage.

The ``mediapipe==0.10.14`` wheel carries TFLite models under ``mediapipe/modules/``. This script, run once
by a maintainer, converts the ones the SDK bundles (:mod:`tryon_sdk.people.models`) with ``tf2onnx``,
replaces MediaPipe's custom ``Convolution2DTransposeBias`` op (which ONNX lacks) by a standard
``ConvTranspose``, checks each ONNX model against the TFLite original on ``ai-edge-litert`` (max abs
difference on random and drawn inputs), and writes the files with a manifest (``models.json``: sizes,
SHA-256, measured difference) into ``tryon_sdk/weights/people``. The conversion environment
(``pip install tf2onnx tensorflow-cpu ai-edge-litert onnx``) is not a dependency of the SDK::

    pip download --no-deps mediapipe==0.10.14 -d /tmp/mp
    python training/convert_mediapipe.py /tmp/mp/mediapipe-0.10.14-*.whl --out tryon_sdk/weights/people
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

#: bundled name -> (path inside the wheel, NHWC input shape, input range)
MODELS: dict[str, tuple[str, tuple[int, int, int, int], tuple[float, float]]] = {
    "selfie_segmentation": (
        "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite", (1, 256, 256, 3), (0.0, 1.0)
    ),
    "selfie_segmentation_landscape": (
        "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite", (1, 144, 256, 3), (0.0, 1.0)
    ),
    "face_detection_short_range": (
        "mediapipe/modules/face_detection/face_detection_short_range.tflite", (1, 128, 128, 3), (-1.0, 1.0)
    ),
}


def replace_transpose_conv_bias(model_path: Path) -> int:
    """Rewrite MediaPipe's ``Convolution2DTransposeBias`` nodes as ONNX ``ConvTranspose`` (stride 2, kernel
    2, as in the selfie segmenters); returns how many were replaced."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    replaced = 0
    for node in list(graph.node):
        if node.op_type != "TFL_Convolution2DTransposeBias":
            continue
        src, w_name, b_name = node.input
        before = producers[src]  # the NCHW -> NHWC transpose tf2onnx put in front
        perm = [a.ints for a in before.attribute if a.name == "perm"][0]
        if before.op_type != "Transpose" or list(perm) != [0, 2, 3, 1]:
            raise RuntimeError(f"unexpected input of {node.name}: {before.op_type} {list(perm)}")
        w = numpy_helper.to_array(inits[w_name])  # O x kh x kw x I
        kh, kw = w.shape[1:3]
        w_onnx = np.ascontiguousarray(w.transpose(3, 0, 1, 2))  # I x O x kh x kw
        new_w = numpy_helper.from_array(w_onnx, f"{node.name}_weight_oihw")
        graph.initializer.append(new_w)
        nchw = f"{node.name}_nchw"
        conv = helper.make_node(
            "ConvTranspose", [before.input[0], new_w.name, b_name], [nchw], name=f"{node.name}_convtranspose",
            kernel_shape=[int(kh), int(kw)], strides=[int(kh), int(kw)],
        )
        back = helper.make_node("Transpose", [nchw], list(node.output), name=f"{node.name}_to_nhwc", perm=[0, 2, 3, 1])
        at = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(at, back)
        graph.node.insert(at, conv)
        replaced += 1
    if replaced:
        onnx.checker.check_model(model)
        onnx.save(model, str(model_path))
    return replaced


def max_abs_difference(tflite: Path, onnx_path: Path, shape: Sequence[int], value_range: tuple[float, float]) -> float:
    """Largest |ONNX - TFLite| over every output, on seeded random inputs and a smooth drawn one."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(str(tflite))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    outs = sorted(interp.get_output_details(), key=lambda o: o["name"])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = sorted(o.name for o in session.get_outputs())
    lo, hi = value_range
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0 : shape[1], 0 : shape[2]] / max(shape[1:3])
    drawn = np.stack([np.sin(6 * xx), np.cos(5 * yy), xx * yy], -1)[None]
    inputs = [rng.random(shape, dtype=np.float32) for _ in range(3)] + [(drawn + 1) / 2]
    worst = 0.0
    for x in inputs:
        x = (lo + (hi - lo) * x).astype(np.float32)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        ref = [interp.get_tensor(o["index"]) for o in outs]
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {session.get_inputs()[0].name: x})))
        for r, name in zip(ref, names):
            worst = max(worst, float(np.abs(got[name].reshape(r.shape) - r).max()))
    return worst


def convert(wheel: Path, out: Path, opset: int = 17) -> dict[str, dict]:
    """Convert every model of :data:`MODELS` from a MediaPipe wheel (or unpacked folder) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if wheel.is_dir():
            root = wheel
        else:
            with zipfile.ZipFile(wheel) as z:
                z.extractall(tmp, [m for m in z.namelist() if m.endswith(".tflite") or m.endswith("LICENSE")])
        for name, (inner, shape, value_range) in MODELS.items():
            tflite = root / inner
            target = out / f"{name}.onnx"
            cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(target),
                   "--opset", str(opset)]
            subprocess.run(cmd, check=True, capture_output=True)
            replaced = replace_transpose_conv_bias(target)
            diff = max_abs_difference(tflite, target, shape, value_range)
            manifest[name] = {
                "file": target.name,
                "source": f"mediapipe==0.10.14 {inner}",
                "source_sha256": hashlib.sha256(tflite.read_bytes()).hexdigest(),
                "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
                "input_shape_nhwc": list(shape),
                "input_range": list(value_range),
                "custom_ops_replaced": replaced,
                "max_abs_diff_vs_tflite": diff,
            }
            print(f"{name}: {target.stat().st_size} bytes, max |onnx - tflite| = {diff:.3g}")
    (out / "models.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="the mediapipe==0.10.14 wheel, or the folder it was unpacked into")
    ap.add_argument("--out", type=Path, default=Path("tryon_sdk/weights/people"))
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args(argv)
    convert(args.wheel, args.out, args.opset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
