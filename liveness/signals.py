"""Per-frame signals computed from one image and its face landmarks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from liveness.image import RgbImage

# Eye aspect ratio landmarks (Soukupová & Čech 2016), mediapipe indices: outer, inner corners,
# two upper-lid and two lower-lid points. "Right" is the subject's right (image left).
RIGHT_EYE = (33, 133, (160, 158), (144, 153))
LEFT_EYE = (263, 362, (385, 387), (380, 373))
# Inner lip midpoints and inner mouth corners.
MOUTH_UPPER, MOUTH_LOWER, MOUTH_RIGHT, MOUTH_LEFT = 13, 14, 78, 308

# A generic head model for solvePnP, in units of the outer-eye-corner distance, axes as the image
# (x right, y down, z away from the camera). Only points that do not move with the mouth, jaw or
# eyelids, so opening the mouth or blinking does not change the pose. Values: the mean of
# mediapipe's own 3D output on two frontal faces, made left-right symmetric.
HEAD_MODEL: dict[int, tuple[float, float, float]] = {
    1: (0.0, 0.458, -0.413),
    2: (0.0, 0.501, -0.231),
    4: (0.0, 0.389, -0.442),
    6: (0.0, 0.052, -0.262),
    10: (0.0, -0.505, -0.213),
    168: (0.0, -0.034, -0.22),
    33: (-0.499, -0.012, 0.028),
    263: (0.499, -0.012, 0.028),
    133: (-0.191, 0.012, -0.028),
    362: (0.191, 0.012, -0.028),
    234: (-0.755, 0.15, 0.641),
    454: (0.755, 0.15, 0.641),
    98: (-0.215, 0.455, -0.145),
    327: (0.215, 0.455, -0.145),
    70: (-0.63, -0.153, 0.02),
    300: (0.63, -0.153, 0.02),
}
_MODEL_IDS = tuple(HEAD_MODEL)
_MODEL_POINTS = np.array([HEAD_MODEL[i] for i in _MODEL_IDS], dtype=np.float64)

# Landmarks whose 2D geometry is compared between frames to tell 3D motion from a rigidly moved
# picture: the face oval, nose, eye corners and brows (spread in depth, little expression).
SHAPE_POINTS = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
    1, 4, 5, 195, 197, 6, 168, 2, 98, 327, 33, 133, 362, 263, 70, 105, 107, 336, 334, 300,
)

CROP_SIZE = 128
THUMB_SIZE = 32


@dataclass(frozen=True)
class FaceGeometry:
    """Landmark-derived measures of the main face."""

    box: tuple[float, float, float, float]  # x, y, width, height in pixels
    center_offset: tuple[float, float]  # face centre minus image centre, in image widths/heights
    iod: float  # outer eye corner distance, pixels
    ear_left: float
    ear_right: float
    mouth: float
    yaw: float  # degrees, > 0 when the subject turns to their own left (nose to image right)
    pitch: float  # degrees, > 0 when the subject looks up
    roll: float  # degrees, > 0 when the head tilts clockwise in the image
    shape: tuple[tuple[float, float], ...]  # SHAPE_POINTS in pixels


@dataclass(frozen=True)
class FrameSignals:
    """Everything the session needs from one frame; `face` is None when no face was found."""

    width: int
    height: int
    face_count: int
    face: FaceGeometry | None
    sharpness: float  # variance of the Laplacian of the face crop (or whole frame), 128 px wide
    exposure: float  # mean grey level of the face crop (or whole frame), 0-255
    phash: str  # 64-bit perceptual hash of the face crop, hex
    thumb: bytes  # 32x32 grey thumbnail of the face crop, for frozen-frame detection


def eye_aspect_ratio(points: npt.NDArray[np.float32], eye: tuple[int, int, tuple[int, int],
                                                              tuple[int, int]]) -> float:
    """Eye opening: mean lid distance over eye width (about 0.2-0.3 open, under 0.1 closed)."""
    outer, inner, (up1, up2), (lo1, lo2) = eye
    xy = points[:, :2]
    width = float(np.linalg.norm(xy[outer] - xy[inner]))
    if width <= 1e-6:
        return 0.0
    lids = float(np.linalg.norm(xy[up1] - xy[lo1]) + np.linalg.norm(xy[up2] - xy[lo2]))
    return lids / (2.0 * width)


def mouth_ratio(points: npt.NDArray[np.float32]) -> float:
    """Inner lip gap over inner mouth width (near 0 closed, above 0.3 clearly open)."""
    xy = points[:, :2]
    width = float(np.linalg.norm(xy[MOUTH_RIGHT] - xy[MOUTH_LEFT]))
    if width <= 1e-6:
        return 0.0
    return float(np.linalg.norm(xy[MOUTH_UPPER] - xy[MOUTH_LOWER])) / width


def head_pose(points: npt.NDArray[np.float32], width: int, height: int) -> tuple[float, float,
                                                                                   float]:
    """Yaw, pitch, roll in degrees from `cv2.solvePnP` on the rigid mesh points."""
    image_points = points[list(_MODEL_IDS), :2].astype(np.float64)
    focal = float(max(width, height))
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=np.float64)
    # Start from a frontal head at the distance its eye span implies, so the iterative solver
    # stays on the physical solution instead of the mirrored one behind the camera.
    span = float(np.linalg.norm(points[33, :2] - points[263, :2])) or 1.0
    rvec = np.zeros((3, 1))
    tvec = np.array([[(image_points[:, 0].mean() - width / 2) / span],
                     [(image_points[:, 1].mean() - height / 2) / span],
                     [focal / span]])
    ok, solved, _tvec = cv2.solvePnP(_MODEL_POINTS, image_points, camera, np.zeros(4), rvec, tvec,
                                   useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return 0.0, 0.0, 0.0
    rotation, _ = cv2.Rodrigues(solved)
    angles, *_ = cv2.RQDecomp3x3(rotation)
    pitch_x, yaw_y, roll_z = (float(a) for a in angles)
    return -yaw_y, -pitch_x, roll_z


def face_geometry(points: npt.NDArray[np.float32], width: int, height: int) -> FaceGeometry:
    """Box, centring, eye and mouth ratios, head pose and shape points of one face."""
    xy = points[:, :2]
    x0, y0 = (float(v) for v in xy.min(axis=0))
    x1, y1 = (float(v) for v in xy.max(axis=0))
    yaw, pitch, roll = head_pose(points, width, height)
    return FaceGeometry(
        box=(x0, y0, x1 - x0, y1 - y0),
        center_offset=(((x0 + x1) / 2 - width / 2) / width, ((y0 + y1) / 2 - height / 2) / height),
        iod=float(np.linalg.norm(xy[33] - xy[263])),
        ear_left=eye_aspect_ratio(points, LEFT_EYE),
        ear_right=eye_aspect_ratio(points, RIGHT_EYE),
        mouth=mouth_ratio(points),
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        shape=tuple((float(xy[i, 0]), float(xy[i, 1])) for i in SHAPE_POINTS),
    )


def face_crop(image: RgbImage,
              box: tuple[float, float, float, float] | None) -> npt.NDArray[np.uint8]:
    """Grey crop of the face box (or the whole frame), resized to CROP_SIZE wide."""
    region: npt.NDArray[np.uint8] = image
    if box is not None:
        x, y, w, h = box
        x0, y0 = max(int(x), 0), max(int(y), 0)
        x1, y1 = min(int(x + w) + 1, region.shape[1]), min(int(y + h) + 1, region.shape[0])
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            region = region[y0:y1, x0:x1]
    # Crop first: converting only the face to grey gives the same pixels for a fraction of the work.
    grey = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
    scale = CROP_SIZE / grey.shape[1]
    size = (CROP_SIZE, max(round(grey.shape[0] * scale), 8))
    return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


_PHASH = cv2.img_hash.PHash_create()  # type: ignore[attr-defined]


def frame_signals(image: RgbImage, faces: list[npt.NDArray[np.float32]]) -> FrameSignals:
    """Compute the signals of one frame from its landmarks; the largest face is the subject."""
    height, width = image.shape[:2]
    face: FaceGeometry | None = None
    count = 0
    if faces:
        main = max(faces, key=lambda f: float(np.ptp(f[:, 0])) * float(np.ptp(f[:, 1])))
        face = face_geometry(main, width, height)
        # A second mesh lying on the first one is a duplicate detection, not a second person.
        count = 1 + sum(1 for f in faces if f is not main and _overlap(f, main) < 0.2)
    crop = face_crop(image, face.box if face else None)
    # 16-bit Laplacian: every value is an exact small integer, so the variance is unchanged.
    _mean, deviation = cv2.meanStdDev(cv2.Laplacian(crop, cv2.CV_16S))
    sharpness = float(deviation[0, 0]) ** 2  # variance of the Laplacian
    digest = _PHASH.compute(crop)
    thumb = cv2.resize(crop, (THUMB_SIZE, THUMB_SIZE), interpolation=cv2.INTER_AREA)
    return FrameSignals(
        width=width,
        height=height,
        face_count=count,
        face=face,
        sharpness=sharpness,
        exposure=float(crop.mean()),
        phash=bytes(digest.flatten()).hex(),
        thumb=thumb.tobytes(),
    )


def _overlap(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """Intersection over union of the landmark bounding boxes of two faces."""
    ax0, ay0 = a[:, :2].min(axis=0)
    ax1, ay1 = a[:, :2].max(axis=0)
    bx0, by0 = b[:, :2].min(axis=0)
    bx1, by1 = b[:, :2].max(axis=0)
    iw = max(0.0, float(min(ax1, bx1) - max(ax0, bx0)))
    ih = max(0.0, float(min(ay1, by1) - max(ay0, by0)))
    inter = iw * ih
    union = float((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0)) - inter
    return inter / union if union > 0 else 0.0


def similarity_residual(reference: npt.NDArray[np.float64],
                        current: npt.NDArray[np.float64]) -> float:
    """RMS distance left after the best 2D similarity fit of `reference` onto `current`.

    Zero for any in-plane move, rotation or scaling of the same picture; grows with 3D head
    rotation and expression. Same units as the inputs.
    """
    ref = reference - reference.mean(axis=0)
    cur = current - current.mean(axis=0)
    # Points as complex numbers a (reference) and b (current): the least-squares rotation and
    # scale is the complex factor z = <a, b> / <a, a>, written out in real arithmetic.
    ax, ay, bx, by = ref[:, 0], ref[:, 1], cur[:, 0], cur[:, 1]
    denom = float(ax @ ax + ay @ ay)
    if denom <= 1e-12:
        return 0.0
    zr = float(ax @ bx + ay @ by) / denom
    zi = float(ax @ by - ay @ bx) / denom
    rx = bx - (zr * ax - zi * ay)
    ry = by - (zr * ay + zi * ax)
    return math.sqrt(float(rx @ rx + ry @ ry) / len(ax))
