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
    order = np.arange(len(triangles))
    if depth is not None:
        order = np.argsort(-depth[triangles].mean(axis=1), kind="stable")
    index_map = np.full((height, width), -1, dtype=np.int32)
    fixed = np.round(dst * 16).astype(np.int32)
    for t in order:
        cv2.fillConvexPoly(index_map, fixed[triangles[t]], (float(t),), lineType=cv2.LINE_8,
                           shift=4)
    affine = _affines(src, dst, triangles)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    inside = index_map >= 0
    chosen = affine[index_map[inside]]
    px, py = xs[inside], ys[inside]
    map_x, map_y = xs.copy(), ys.copy()
    map_x[inside] = chosen[:, 0, 0] * px + chosen[:, 1, 0] * py + chosen[:, 2, 0]
    map_y[inside] = chosen[:, 0, 1] * px + chosen[:, 1, 1] * py + chosen[:, 2, 1]
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return np.asarray(warped, dtype=np.uint8)
