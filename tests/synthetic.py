"""Synthetic person sequences with known truth, for the video tests and benchmarks.

A person is a head (face + hair, or only hair from the back), a torso, two
arms, two legs and two shoes, drawn as polygons on a textured background. It
can walk sideways (``vx``), swing its arms, and turn from a front to a back
view at ``turn_at``. Raw model output is imitated by soft probabilities
(blurred one-hot truth, sharpened, plus noise); defects are injected into the
probabilities, so the raw labels (their argmax) carry them too:

* ``flicker``: per-frame logit noise (independent between frames) that flips
  ambiguous pixels, mostly along boundaries, plus ``speckles`` near-tie blobs;
* ``swaps``: ``(start, length)`` runs of frames whose left/right channels are
  swapped (a transient swap);
* ``mixed``: frames where the lower part of every arm and leg carries the
  other side (half-left half-right limbs);
* ``front_habit``: the imitated parser labels sides by image position as if
  every view were a front view (what parsers trained on front views do on
  back views): on back-view frames all limb channels are swapped;
* ``head_flips``: frames whose head is drawn as the other view (a face on a
  back view, hair only on a front view) while the body is unchanged: a
  one-frame doubt about the facing.

Left/right are the person's own sides: facing the camera (``facing=+1``) the
left limbs are on the image's right; from the back (``-1``) on its left.

Still people, each with its exact pixels kept (tests measure them):
:func:`block_person_image` (an RGB photo-like figure, the ``person_image`` fixture),
:func:`frontal_person` (one frontal person in boxes with a painted neck, for the garment
masks) and :func:`synthetic_people` (a batch of jittered box people rendered in flat
colours with noise, with their ATR masks, for the training tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import cv2
import numpy as np
import torch

from tryon_sdk.labels import FLIP_PAIRS, NUM_CLASSES, PALETTE

BACKGROUND, HAIR, UPPER, PANTS, FACE = 0, 2, 4, 6, 11
L_SHOE, R_SHOE, L_LEG, R_LEG, L_ARM, R_ARM = 9, 10, 12, 13, 14, 15


@dataclass
class SyntheticSequence:
    """Frames of one synthetic clip; lists have one entry per frame."""

    truth: list[np.ndarray] = field(default_factory=list)  # H x W uint8, true labels
    labels: list[np.ndarray] = field(default_factory=list)  # H x W uint8, raw labels (argmax of probs)
    probs: list[torch.Tensor] = field(default_factory=list)  # C x H x W float32
    frames: list[np.ndarray] = field(default_factory=list)  # H x W x 3 uint8 RGB
    facing: list[int] = field(default_factory=list)  # +1 front view, -1 back view
    timestamps_ms: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.truth)


def draw_person(
    size: tuple[int, int],
    cx: float,
    *,
    facing: int = 1,
    swing: float = 0.0,
    legs_together: bool = False,
    height: float = 0.85,
    head_facing: int | None = None,
    top: float | None = None,
) -> np.ndarray:
    """True H x W uint8 label map of one person centred at image x ``cx``.

    ``head_facing`` draws the head as seen from that side (default: ``facing``);
    ``top`` is the y of the crown (default: the person is centred vertically).
    """
    h, w = size
    lab = np.zeros((h, w), np.uint8)
    u = height * h / 16.0  # body unit
    top = (h - 16 * u) / 2 if top is None else top
    left_dir = 1 if facing > 0 else -1  # image direction of the person's left side

    def rect(x0: float, x1: float, y0: float, y1: float, cls: int) -> None:
        pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
        cv2.fillPoly(lab, [np.round(pts).astype(np.int32)], int(cls))

    def limb(x_top: float, x_bottom: float, y0: float, y1: float, half_w: float, cls: int) -> None:
        pts = np.array(
            [[x_top - half_w, y0], [x_top + half_w, y0], [x_bottom + half_w, y1], [x_bottom - half_w, y1]]
        )
        cv2.fillPoly(lab, [np.round(pts).astype(np.int32)], int(cls))

    # torso, legs, shoes
    rect(cx - 2.0 * u, cx + 2.0 * u, top + 3.0 * u, top + 8.5 * u, UPPER)
    leg_off = 0.7 * u if legs_together else 1.1 * u
    for side, (leg, shoe) in ((1, (L_LEG, L_SHOE)), (-1, (R_LEG, R_SHOE))):
        x = cx + side * left_dir * leg_off
        rect(x - 0.7 * u, x + 0.7 * u, top + 8.5 * u, top + 14.2 * u, leg)
        rect(x - 0.75 * u, x + 0.75 * u, top + 14.2 * u, top + 15.2 * u, shoe)
    # arms (swinging in opposite phase)
    for side, arm in ((1, L_ARM), (-1, R_ARM)):
        x = cx + side * left_dir * 2.75 * u
        limb(x, x + side * swing * u, top + 3.2 * u, top + 9.0 * u, 0.55 * u, arm)
    # head: hair cap + face from the front, all hair from the back
    centre = (int(round(cx)), int(round(top + 1.6 * u)))
    axes = (int(round(1.1 * u)), int(round(1.45 * u)))
    cv2.ellipse(lab, centre, axes, 0, 0, 360, HAIR, -1)
    if (facing if head_facing is None else head_facing) > 0:
        face_c = (centre[0], int(round(top + 1.9 * u)))
        cv2.ellipse(lab, face_c, (int(round(0.9 * u)), int(round(1.1 * u))), 0, 0, 360, FACE, -1)
    return lab


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], size: tuple[int, int], cell: int) -> np.ndarray:
    """Gaussian noise of unit std, smooth over ``cell`` pixels: ``shape[0] x H x W`` float32."""
    h, w = size
    coarse = rng.standard_normal((shape[0], max(2, h // cell), max(2, w // cell))).astype(np.float32)
    return np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_CUBIC) for c in coarse])


def _texture(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    tex = _smooth_noise(rng, (1,), (h, w), 6)[0] + 0.5 * rng.standard_normal((h, w)).astype(np.float32)
    return (tex - tex.min()) / (np.ptp(tex) + 1e-6)


def truth_to_probs(truth: np.ndarray, edge_sigma: float = 1.0, sharpness: float = 8.0) -> np.ndarray:
    """Clean soft probabilities for a label map: C x H x W float32 (soft only along boundaries)."""
    onehot = np.zeros((NUM_CLASSES, *truth.shape), np.float32)
    np.put_along_axis(onehot, truth[None].astype(np.int64), 1.0, axis=0)
    if edge_sigma > 0:
        onehot = np.stack([cv2.GaussianBlur(c, (0, 0), edge_sigma) for c in onehot])
    return _softmax(onehot * sharpness)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=0, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=0, keepdims=True)
    return z.astype(np.float32, copy=False)


def _swap_channels(p: np.ndarray, region: np.ndarray | None, pairs: Iterable[tuple[int, int]]) -> None:
    for a, b in pairs:
        if region is None:
            p[[a, b]] = p[[b, a]]
        else:
            pa = p[a][region].copy()
            p[a][region] = p[b][region]
            p[b][region] = pa


def person_sequence(
    n_frames: int = 20,
    size: tuple[int, int] = (96, 128),
    *,
    seed: int = 0,
    x0: float | None = None,
    vx: float = 0.0,
    swing: float = 0.0,
    turn_at: int | None = None,
    legs_together: bool = False,
    flicker: float = 0.0,
    speckles: int = 0,
    swaps: Iterable[tuple[int, int]] = (),
    swap_pairs: Iterable[tuple[int, int]] = FLIP_PAIRS,
    mixed: Iterable[int] = (),
    front_habit: bool = False,
    head_flips: Iterable[int] = (),
    edge_sigma: float = 1.0,
    sharpness: float = 8.0,
    fps: float = 10.0,
) -> SyntheticSequence:
    """A clip of one person; see the module docstring for the options.

    ``turn_at``: first frame of the back view (None: front view throughout).
    ``vx``: horizontal speed in pixels per frame; ``swing``: arm swing
    amplitude in body units.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    swap_frames = {t for start, length in swaps for t in range(start, start + length)}
    swap_pairs = tuple(swap_pairs)
    mixed = set(mixed)
    head_flips = set(head_flips)
    background = (np.stack([_texture(rng, size)] * 3, -1) * np.array([90, 110, 80]) + 60).astype(np.float32)
    body_tex = _texture(rng, (h, 2 * w))
    x_start = w / 2 if x0 is None else x0
    seq = SyntheticSequence()
    for t in range(n_frames):
        facing = -1 if turn_at is not None and t >= turn_at else 1
        cx = x_start + vx * t
        head = -facing if t in head_flips else facing
        truth = draw_person(
            size, cx, facing=facing, swing=swing * np.sin(0.6 * t), legs_together=legs_together, head_facing=head
        )
        logits = np.log(np.clip(truth_to_probs(truth, edge_sigma, sharpness), 1e-6, 1.0))
        if front_habit and facing < 0:
            for a, b in FLIP_PAIRS:
                logits[[a, b]] = logits[[b, a]]
        if flicker > 0:
            logits += flicker * _smooth_noise(rng, (NUM_CLASSES,), size, 4)
        for _ in range(speckles):
            # a blob where a wrong class narrowly beats the true one
            r = int(rng.integers(2, 5))
            y, x = int(rng.integers(r, h - r)), int(rng.integers(r, w - r))
            blob = np.zeros((h, w), np.uint8)
            cv2.circle(blob, (x, y), r, 1, -1)
            blob = blob.astype(bool)
            wrong = int(rng.integers(1, NUM_CLASSES))
            logits[wrong][blob] = logits.max(axis=0)[blob] + 0.3
        probs = _softmax(logits)
        if t in mixed:
            for a, b in ((L_ARM, R_ARM), (L_LEG, R_LEG)):
                for cls in (a, b):
                    ys = np.nonzero(truth == cls)[0]
                    if ys.size:
                        cut = ys.min() + 0.6 * (ys.max() - ys.min())
                        rows = np.arange(h)[:, None] > cut
                        _swap_channels(probs, (truth == cls) & rows, [(a, b)])
        if t in swap_frames:
            _swap_channels(probs, None, swap_pairs)
        labels = probs.argmax(axis=0).astype(np.uint8)
        # rendered RGB: class colour modulated by a texture that moves with the person
        shift = int(round(w / 2 - cx)) % w
        tex = body_tex[:, shift : shift + w]
        person = PALETTE[truth].astype(np.float32) * (0.6 + 0.4 * tex[..., None])
        frame = np.where(truth[..., None] > 0, person, background).clip(0, 255).astype(np.uint8)
        seq.truth.append(truth)
        seq.labels.append(labels)
        seq.probs.append(torch.from_numpy(probs))
        seq.frames.append(frame)
        seq.facing.append(facing)
        seq.timestamps_ms.append(1000.0 * t / fps)
    return seq


def moving_box_sequence(
    n_frames: int = 12,
    size: tuple[int, int] = (64, 96),
    *,
    vx: float = 4.0,
    box: tuple[int, int] = (24, 16),
    cls: int = UPPER,
    flicker: float = 0.0,
    seed: int = 0,
) -> SyntheticSequence:
    """A rectangle of class ``cls`` moving right by ``vx`` pixels per frame."""
    rng = np.random.default_rng(seed)
    h, w = size
    seq = SyntheticSequence()
    for t in range(n_frames):
        truth = np.zeros(size, np.uint8)
        x = 8 + vx * t
        y = (h - box[0]) // 2
        cv2.rectangle(truth, (int(round(x)), y), (int(round(x)) + box[1] - 1, y + box[0] - 1), cls, -1)
        logits = np.log(np.clip(truth_to_probs(truth), 1e-6, 1.0))
        if flicker > 0:
            logits += flicker * _smooth_noise(rng, (NUM_CLASSES,), size, 4)
        probs = _softmax(logits)
        seq.truth.append(truth)
        seq.labels.append(probs.argmax(axis=0).astype(np.uint8))
        seq.probs.append(torch.from_numpy(probs))
        seq.frames.append((PALETTE[truth] // 2 + 40).astype(np.uint8))
        seq.facing.append(1)
        seq.timestamps_ms.append(100.0 * t)
    return seq


class PaletteEngine:
    """A stand-in network that reads the classes off palette colours, at any resolution.

    Each pixel's logits are ``-|rgb - PALETTE[c]|^2 / (2 * 25^2)``, with background winning where no
    colour is within 60 (the letterbox padding, blends at edges). A frame drawn as
    :func:`palette_frame` of a label map parses back to that label map, whatever crop or scale it
    is seen at, so people-first parsing can be tested against a known truth; it "sees" exactly the
    sides it is drawn with (draw back views with front-view sides to imitate that habit). Counts its
    calls and input sizes in :attr:`calls`.
    """

    name = "palette"

    def __init__(self, input_size: tuple[int, int] = (96, 64)) -> None:
        from tryon_sdk import ModelConfig

        self.config = ModelConfig(input_size=input_size, architecture="lraspp", backbone="mobilenet_v3_large")
        self.device = torch.device("cpu")
        self.calls: list[tuple[int, ...]] = []
        self._palette = torch.from_numpy(PALETTE.astype(np.float32))

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(batch.shape))
        mean = torch.tensor(self.config.mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.config.std).view(1, 3, 1, 1) * 255.0
        rgb = batch * std + mean
        d2 = ((rgb[:, None] - self._palette[None, :, :, None, None]) ** 2).sum(2)  # B x C x H x W
        logits = -d2 / (2 * 25.0**2)
        far = d2.min(1).values > 60.0**2
        logits[:, 0] = torch.where(far, torch.zeros_like(far, dtype=logits.dtype), logits[:, 0])
        return logits


def palette_frame(labels: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 RGB frame that :class:`PaletteEngine` parses back to ``labels``."""
    return PALETTE[labels]


def scene(
    size: tuple[int, int], people: Iterable[tuple[float, float, float, int]], *, front_habit: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A frame with people ``(cx, top, height, facing)`` (pixels; facing +1 front, -1 back).

    Returns the true label map and the raw label map a parser with ``front_habit`` would see
    (left/right by image position on back views); draw the frame with :func:`palette_frame` of the raw map.
    """
    h, w = size
    truth = np.zeros(size, np.uint8)
    raw = np.zeros(size, np.uint8)
    for cx, top, height, facing in people:
        lab = draw_person(size, cx, facing=facing, height=height / h, top=top)
        seen = lab.copy()
        if front_habit and facing < 0:
            for a, b in FLIP_PAIRS:
                seen[lab == a], seen[lab == b] = b, a
        truth = np.where(lab > 0, lab, truth)
        raw = np.where(seen > 0, seen, raw)
    return truth, raw


# ------------------------------------------------------------------------------------------------ still people
def block_person_image() -> np.ndarray:
    """A 121x87 RGB 'person' (skin head, red top, blue trousers) on a grey wall, with noise."""
    rng = np.random.default_rng(1)
    img = np.full((121, 87, 3), 190, np.uint8)
    img[8:30, 33:54] = (224, 172, 140)
    img[30:70, 25:62] = (200, 30, 40)
    img[70:115, 28:59] = (30, 40, 150)
    noise = rng.integers(-6, 7, img.shape)
    return np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)


def frontal_person(h: int = 400, w: int = 240, x: int = 0, lower: str = "Pants") -> np.ndarray:
    """A frontal person in ATR ids: head, neck (painted Face), a tight short top, bare arms, trousers or a skirt."""
    from tryon_sdk.labels import CLASS_INDEX as C

    m = np.zeros((h, w), np.uint8)
    cx = w // 2 + x
    m[10:30, cx - 22 : cx + 22] = C["Hair"]
    m[30:62, cx - 20 : cx + 20] = C["Face"]
    m[62:74, cx - 9 : cx + 9] = C["Face"]  # the neck, as ATR parsers paint it
    m[74:170, cx - 40 : cx + 40] = C["Upper-clothes"]
    m[80:215, cx - 56 : cx - 42] = C["Right-arm"]  # image left: the person's right
    m[80:215, cx + 42 : cx + 56] = C["Left-arm"]
    if lower == "Pants":
        m[170:355, cx - 38 : cx - 2] = C["Pants"]
        m[170:355, cx + 2 : cx + 38] = C["Pants"]
        m[170:200, cx - 38 : cx + 38] = C["Pants"]
    else:
        m[170:240, cx - 45 : cx + 45] = C["Skirt"]
        m[240:355, cx - 30 : cx - 8] = C["Right-leg"]
        m[240:355, cx + 8 : cx + 30] = C["Left-leg"]
    m[355:375, cx - 36 : cx - 4] = C["Right-shoe"]
    m[355:375, cx + 4 : cx + 36] = C["Left-shoe"]
    return m


#: flat RGB colours of the classes :func:`synthetic_people` draws
COLOURS = {BACKGROUND: (150, 160, 170), HAIR: (60, 40, 20), UPPER: (200, 30, 40), PANTS: (30, 40, 150), FACE: (225, 175, 145),
           L_ARM: (215, 165, 135), R_ARM: (215, 165, 135), L_LEG: (205, 160, 130), R_LEG: (205, 160, 130),
           L_SHOE: (20, 20, 20), R_SHOE: (20, 20, 20)}


def person_mask(h: int, w: int, rng: np.random.Generator, facing: int = 1) -> np.ndarray:
    """A standing person facing the camera (``facing=1``) in ATR ids, uint8 ``h x w``; jittered position/size."""
    m = np.zeros((h, w), np.uint8)
    s = rng.uniform(0.8, 1.0)
    cx = int(w / 2 + rng.uniform(-0.1, 0.1) * w)
    top = int(rng.uniform(0.02, 0.08) * h)
    H = int(0.9 * h * s)
    W = int(0.45 * w * s)

    def box(y0, y1, x0, x1, v):
        m[max(top + int(y0 * H), 0):top + int(y1 * H), max(cx + int(x0 * W), 0):max(cx + int(x1 * W), 0)] = v

    box(0.0, 0.06, -0.17, 0.17, HAIR)
    box(0.06, 0.16, -0.14, 0.14, FACE if facing == 1 else HAIR)
    box(0.17, 0.5, -0.3, 0.3, UPPER)
    # person's left is image-right when facing the camera
    la, ra = (L_ARM, R_ARM) if facing == 1 else (R_ARM, L_ARM)
    box(0.18, 0.5, 0.32, 0.46, la)
    box(0.18, 0.5, -0.46, -0.32, ra)
    box(0.5, 0.75, -0.28, 0.28, PANTS)
    ll, rl = (L_LEG, R_LEG) if facing == 1 else (R_LEG, L_LEG)
    box(0.75, 0.93, 0.06, 0.24, ll)
    box(0.75, 0.93, -0.24, -0.06, rl)
    ls, rs = (L_SHOE, R_SHOE) if facing == 1 else (R_SHOE, L_SHOE)
    box(0.93, 1.0, 0.04, 0.28, ls)
    box(0.93, 1.0, -0.28, -0.04, rs)
    return m


def render_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 ``h x w x 3`` RGB image of an ATR mask: the :data:`COLOURS` plus noise."""
    img = np.zeros(mask.shape + (3,), np.int16)
    for c, col in COLOURS.items():
        img[mask == c] = col
    img += rng.integers(-12, 13, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def synthetic_people(n: int, h: int = 96, w: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic people: images uint8 ``n x h x w x 3`` and ATR masks ``n x h x w``."""
    rng = np.random.default_rng(seed)
    masks = np.stack([person_mask(h, w, rng) for _ in range(n)])
    images = np.stack([render_mask(m, rng) for m in masks])
    return images, masks
