"""Outputs appear complete or not at all: atomic_path, PendingSink, and the FrameSink writers."""

from __future__ import annotations

import os
import stat
from fractions import Fraction

import av
import numpy as np
import pytest

from tryon_sdk.errors import InputError, VideoError
from tryon_sdk.outputs import FrameSink, OutputGroup, PendingOutput, PendingSink, atomic_path, file_mode
from tryon_sdk.video.io.writers import GrayVideoWriter, H264Writer, PngSequenceWriter


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_path_renames_on_success_with_the_mode_of_any_new_file(tmp_path):
    final = tmp_path / "model.onnx"
    with atomic_path(final) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".onnx" and tmp.name.startswith(".model.partial-")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)  # as mkstemp would make it
        os.write(fd, b"done")
        os.close(fd)
        assert not final.exists()  # nothing at the final name until the block ends
    assert final.read_bytes() == b"done"
    assert _mode(final) == file_mode()
    assert os.listdir(tmp_path) == ["model.onnx"]


@pytest.mark.parametrize("error", [RuntimeError("export failed"), KeyboardInterrupt()])
def test_atomic_path_removes_the_temporary_and_keeps_the_older_file(tmp_path, error):
    final = tmp_path / "summary.json"
    final.write_text("old")
    with pytest.raises(type(error)):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise error
    assert final.read_text() == "old"
    assert os.listdir(tmp_path) == ["summary.json"]


def test_atomic_path_of_a_folder_replaces_the_older_folder_whole(tmp_path):
    final = tmp_path / "labels"
    final.mkdir()
    (final / "stale.png").write_bytes(b"x")
    with atomic_path(final, is_dir=True) as tmp:
        (tmp / "000000.png").write_bytes(b"y")
    assert sorted(os.listdir(final)) == ["000000.png"]
    assert os.listdir(tmp_path) == ["labels"]


def test_every_writer_is_a_frame_sink(tmp_path):
    writers = [
        H264Writer(tmp_path / "a.mp4", fps=Fraction(10), time_base=Fraction(1, 10)),
        GrayVideoWriter(tmp_path / "b.mkv", time_base=Fraction(1, 10)),
        PngSequenceWriter(tmp_path),
    ]
    for w in writers:
        assert isinstance(w, FrameSink)
        w.abort()


def test_pending_sink_commits_a_complete_video_on_close(tmp_path):
    final = tmp_path / "labels.mkv"
    planes = [np.full((6, 8), i, np.uint8) for i in range(3)]
    with PendingSink(final, lambda tmp: GrayVideoWriter(tmp, time_base=Fraction(1, 10))) as sink:
        for i, plane in enumerate(planes):
            sink.write(plane, i)
        assert not final.exists()
    assert sink.frames == 3 and os.listdir(tmp_path) == ["labels.mkv"]
    with av.open(str(final)) as c:
        got = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    assert all(np.array_equal(a, b) for a, b in zip(got, planes)) and len(got) == 3


def test_pending_sink_aborts_on_an_error_and_leaves_the_older_file(tmp_path):
    final = tmp_path / "overlay.mp4"
    final.write_bytes(b"older result")
    with pytest.raises(InputError):
        with PendingSink(final, lambda tmp: GrayVideoWriter(tmp, time_base=Fraction(1, 10))) as sink:
            sink.write(np.zeros((4, 4), np.uint8), 0)
            sink.write(np.zeros((4, 4, 3), np.uint8), 1)  # not a plane: the writer refuses it
    assert final.read_bytes() == b"older result"
    assert os.listdir(tmp_path) == ["overlay.mp4"]


def test_pending_sink_that_cannot_open_leaves_nothing(tmp_path):
    def fail(tmp):
        tmp.write_bytes(b"started")
        raise VideoError("cannot open")

    with pytest.raises(VideoError):
        PendingSink(tmp_path / "x.mp4", fail)
    assert os.listdir(tmp_path) == []


def _group_with_a_video_and_a_folder(tmp_path) -> OutputGroup:
    group = OutputGroup()
    video = group.add(PendingOutput(tmp_path / "labels.mkv"))
    group.sinks.append(writer := GrayVideoWriter(video.tmp, time_base=Fraction(1, 10)))
    writer.write(np.zeros((4, 4), np.uint8), 0)
    frames = group.add(PendingOutput(tmp_path / "alpha", is_dir=True), PngSequenceWriter(tmp_path / "unused"))
    (frames.tmp / "000000.png").write_bytes(b"p")
    return group


def test_output_group_discards_all(tmp_path):
    _group_with_a_video_and_a_folder(tmp_path).discard()
    assert os.listdir(tmp_path) == []


def test_output_group_commits_all_into_another_folder(tmp_path):
    group = _group_with_a_video_and_a_folder(tmp_path)
    group.retarget(tmp_path / "incomplete")
    group.close()
    group.commit()
    assert os.listdir(tmp_path) == ["incomplete"]
    assert sorted(os.listdir(tmp_path / "incomplete")) == ["alpha", "labels.mkv"]
    with av.open(str(tmp_path / "incomplete" / "labels.mkv")) as c:
        assert len(list(c.decode(video=0))) == 1
