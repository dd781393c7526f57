"""The webcam demo: live parsing with an on-screen overlay or recolour.

Run by ``tryon-sdk webcam`` (flags in :mod:`tryon_sdk.commands.webcam`) and ``examples/webcam_demo.py``::

    camera --LatestFrameGrabber (thread, newest frame only)--> main loop
        --parse_async--> LIVE_STREAM session (worker: parse, smooth, composite)
        --callback--> newest output --> window (or a video file when headless)

* :class:`LatestFrameGrabber` reads an OpenCV capture on its own thread and
  keeps only the newest frame, so the demo never works through a backlog of
  stale buffered frames. ``--source FILE`` replays a video as if it were a
  camera: frames are released at the file's frame rate, and frames the demo
  is too slow for are dropped, as with a real camera.
* Without a display (no ``$DISPLAY`` on Linux, or ``cv2.imshow`` fails) the
  demo writes what it would show to a video file and says so.
* Keys (window only): ``m`` composite (recolor / overlay / none), ``r`` region,
  ``c`` colour, ``s`` smoothing on/off, ``q`` or Esc quit.
"""

from .capture import GrabbedFrame, LatestFrameGrabber, open_capture
from .demo import DemoStats, run_demo
from .display import has_display
from .options import COMPOSITES, DEFAULT_OUTPUT, DemoOptions, DemoState

__all__ = [
    "GrabbedFrame",
    "LatestFrameGrabber",
    "open_capture",
    "DemoOptions",
    "DemoState",
    "DemoStats",
    "run_demo",
    "has_display",
    "COMPOSITES",
    "DEFAULT_OUTPUT",
]
