"""Generate tiny test videos with PyAV (no files are checked in).

Frames show a bright "person" rectangle moving across a colour gradient, so
consecutive frames differ and a marker makes orientation checkable.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

__all__ = [
    "synthetic_frame",
    "make_video",
    "faststart_mp4",
    "head",
    "make_audio_only",
    "read_video",
    "read_gray_video",
    "audio_packets",
    "calibrated_parser",
]


def synthetic_frame(index: int, width: int, height: int) -> np.ndarray:
    """``height x width x 3`` uint8 RGB test frame; a white 1/4-size block marks the top-left corner."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack(
        [(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)), np.full_like(x, (index * 37) % 256)], axis=-1
    ).astype(np.uint8)
    bw, bh = max(2, width // 5), max(2, height // 2)
    x0 = (index * 3) % max(1, width - bw)
    img[height // 4 : height // 4 + bh, x0 : x0 + bw] = (200, 60, 90)
    img[: height // 4, : width // 4] = 255
    return img


def make_video(
    path: str | Path,
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 8,
    fps: int = 10,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    pts_ms: Sequence[int] | None = None,
    rotation: int = 0,
    audio: bool = False,
    audio_codec: str = "aac",
    corrupt: Sequence[int] = (),
    steady: bool = False,
) -> Path:
    """Write a test video and return its path.

    Args:
        pts_ms: per-frame timestamps in ms (variable frame rate); default ``i * 1000 / fps``.
        rotation: display-matrix rotation in degrees counter-clockwise (as ``VideoFrame.rotation`` reads it).
        audio: add a 440 Hz mono audio track covering the video's duration.
        corrupt: indices of frames whose packet is replaced by garbage bytes (use an intra codec, e.g. mjpeg in .avi).
        steady: one scene drifting by a pixel a frame, with light noise (no scene cut, so smoothing acts).
    """
    rng = np.random.default_rng(0)
    path = Path(path)
    times = list(pts_ms) if pts_ms is not None else [round(i * 1000 / fps) for i in range(frames)]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        vs.codec_context.time_base = Fraction(1, 1000)
        if codec == "libx264":
            vs.options = {"preset": "ultrafast", "crf": "18"}
        if rotation:
            vs.set_display_rotation(rotation)
        a_stream = None
        if audio:
            a_stream = out.add_stream(audio_codec, rate=16000, layout="mono")
        samples_done = 0

        def mux(packets):
            for p in packets:
                if p.pts is not None and p.stream is vs and corrupt and _packet_index(p) in corrupt:
                    bad = av.Packet(b"\x00\x13garbage" * 16)
                    bad.pts, bad.dts, bad.time_base, bad.stream = p.pts, p.dts, p.time_base, vs
                    out.mux(bad)
                else:
                    out.mux(p)

        def _packet_index(p) -> int:
            ms = round(float(p.pts * p.time_base) * 1000)
            return times.index(ms) if ms in times else -1

        for i, t in enumerate(times):
            if steady:
                noise = rng.integers(-10, 11, (height, width, 3))
                img = np.clip(np.roll(synthetic_frame(0, width, height), i, axis=1) + noise, 0, 255).astype(np.uint8)
            else:
                img = synthetic_frame(i, width, height)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            mux(vs.encode(frame))
            if a_stream is not None:
                end = round((t + 1000 / fps) * 16)  # samples at 16 kHz up to the end of this frame
                while samples_done < end:
                    n = min(1024, end - samples_done)
                    s = np.arange(samples_done, samples_done + n)
                    wave = (0.3 * np.sin(2 * np.pi * 440 * s / 16000)).astype(np.float32)[None]
                    af = av.AudioFrame.from_ndarray(wave, format="flt", layout="mono")
                    af.sample_rate, af.pts, af.time_base = 16000, samples_done, Fraction(1, 16000)
                    for p in a_stream.encode(af):
                        out.mux(p)
                    samples_done += n
        mux(vs.encode())
        if a_stream is not None:
            for p in a_stream.encode():
                out.mux(p)
    return path


def faststart_mp4(path: Path, frames: int = 30, **kw) -> Path:
    """An H.264 MP4 with its index (moov) before the frames, remuxed from :func:`make_video`."""
    plain = make_video(path.with_name(path.stem + "-plain.mp4"), frames=frames, **kw)
    with av.open(str(plain)) as src, av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    return path


def head(path: Path, share: float, name: str | None = None) -> Path:
    """A copy of the first ``share`` of ``path``'s bytes (a cut-off file), beside it."""
    data = path.read_bytes()
    cut = path.with_name(name or f"{path.stem}-cut{path.suffix}")
    cut.write_bytes(data[: int(len(data) * share)])
    return cut


def make_audio_only(path: str | Path, *, seconds: float = 0.5, with_empty_video: bool = True) -> Path:
    """A file with an audio track and (optionally) a video stream that holds zero frames."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        if with_empty_video:
            vs = out.add_stream("mpeg4", rate=10)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream("mp2", rate=16000, layout="mono")
        total = int(seconds * 16000)
        for start in range(0, total, 1152):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1152), np.int16), format="s16", layout="mono")
            af.sample_rate, af.pts = 16000, start
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode():
            out.mux(p)
    return path


def read_video(path: str | Path) -> tuple[list[np.ndarray], list[float], dict]:
    """Decode every video frame: RGB arrays, times in seconds, and stream facts."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        facts = {
            "codec": vs.codec_context.name,
            "pix_fmt": vs.codec_context.pix_fmt,
            "width": vs.codec_context.width,
            "height": vs.codec_context.height,
            "audio": len(c.streams.audio) > 0,
            "format": c.format.name,
        }
        frames, times = [], []
        for f in c.decode(vs):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.pts * f.time_base))
    return frames, times, facts


def read_gray_video(path: str | Path) -> tuple[list[np.ndarray], list[float]]:
    """Decode a gray8 (FFV1) video exactly: ``HxW`` uint8 planes and times in seconds."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        out, times = [], []
        for f in c.decode(vs):
            assert f.format.name == "gray", f.format.name
            out.append(f.to_ndarray())
            times.append(float(f.pts * f.time_base))
    return out, times


def audio_packets(path: str | Path) -> tuple[str | None, int, float]:
    """(codec, number of packets, duration in seconds) of the first audio stream, or (None, 0, 0)."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None, 0, 0.0
        a = c.streams.audio[0]
        n, end = 0, 0.0
        for p in c.demux(a):
            if p.pts is None:
                continue
            n += 1
            end = max(end, float((p.pts + (p.duration or 0)) * p.time_base))
        return a.codec_context.name, n, end


def calibrated_parser(input_size: tuple[int, int] = (64, 48), seed: int = 0):
    """A tiny random-weight parser whose labels vary over the image.

    A freshly initialised MobileNetV3 in eval mode outputs ~1e-9 activations
    (constant labels everywhere); re-estimating the BatchNorm statistics on a
    few synthetic frames makes its output depend on the pixels, so tests can
    tell frames, states and label ids apart.
    """
    import torch

    from tryon_sdk import Parser

    torch.manual_seed(seed)
    parser = Parser.from_config(device="cpu", input_size=input_size, people=False)  # synthetic frames: whole frame
    model = parser.model
    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.reset_running_stats()
            mod.momentum = None  # cumulative average over the calibration batches
    model.train()
    h, w = input_size[1], input_size[0]
    with torch.no_grad():
        for i in range(3):
            imgs = [torch.from_numpy(synthetic_frame(4 * i + j, w, h)).permute(2, 0, 1).float() / 255 for j in range(4)]
            model((torch.stack(imgs) - 0.45) / 0.25)
    model.eval()
    return parser
