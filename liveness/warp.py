"""Piecewise-affine image warping driven by moved face-mesh points (corpus generation only)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float64]
Triangles = npt.NDArray[np.int32]


def triangulate(points: Points, width: int, height: int) -> Triangles:
    """Delaunay triangles (indices into `points`) of 2D points lying inside the image."""
    subdiv = cv2.Subdiv2D((-1, -1, width + 2, height + 2))
    lookup: dict[tuple[float, float], int] = {}
    for index, (x, y) in enumerate(points):
        key = (float(np.float32(x)), float(np.float32(y)))
        if key in lookup:
            continue
        lookup[key] = index
        subdiv.insert((float(x), float(y)))
    triangles = []
    for x1, y1, x2, y2, x3, y3 in subdiv.getTriangleList():
        keys = [(float(np.float32(x)), float(np.float32(y))) for x, y in
                ((x1, y1), (x2, y2), (x3, y3))]
        if all(k in lookup for k in keys):
            triangles.append([lookup[k] for k in keys])
    return np.array(triangles, dtype=np.int32)


def _affines(src: Points, dst: Points, triangles: Triangles) -> npt.NDArray[np.float64]:
    """Per-triangle 3x2 matrices mapping homogeneous destination pixels to source pixels."""
    d = np.concatenate([dst[triangles], np.ones((len(triangles), 3, 1))], axis=2)
    s = src[triangles]
    affine: npt.NDArray[np.float64] = np.linalg.pinv(d) @ s
    return affine


def warp(image: Image, *, src: Points, dst: Points, triangles: Triangles,
         depth: npt.NDArray[np.float64] | None = None) -> Image:
    """Move image content at `src` points to `dst` points, triangle by triangle.

    Triangles are painted far to near by the mean `depth` of their corners (larger is farther),
    so a turned nose hides the cheek behind it. Pixels outside every triangle are unchanged.
    """
    height, width = image.shape[:2]
    # Only triangles with a moved corner change pixels; everything else maps to itself.
    moving = np.abs(dst[triangles] - src[triangles]).max(axis=(1, 2)) > 1e-6
    if not moving.any():
        return image.copy()
    corners = dst[triangles[moving]].reshape(-1, 2)
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 1, 0, [width, height])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 2, 0, [width, height])
    order = np.flatnonzero(moving)
    if depth is not None:
        order = order[np.argsort(-depth[triangles[order]].mean(axis=1), kind="stable")]
    index_map = np.full((y1 - y0, x1 - x0), -1, dtype=np.int32)
    fixed = np.round((dst - [x0, y0]) * 16).astype(np.int32)
    for t in order:
        cv2.fillConvexPoly(index_map, fixed[triangles[t]], (float(t),), lineType=cv2.LINE_8,
                           shift=4)
    affine = _affines(src, dst, triangles)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    inside = index_map >= 0
    chosen = affine[index_map[inside]]
    px, py = xs[inside], ys[inside]
    map_x, map_y = xs.copy(), ys.copy()
    map_x[inside] = chosen[:, 0, 0] * px + chosen[:, 1, 0] * py + chosen[:, 2, 0]
    map_y[inside] = chosen[:, 0, 1] * px + chosen[:, 1, 1] * py + chosen[:, 2, 1]
    patch = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    out = image.copy()
    out[y0:y1, x0:x1] = patch
    return out
