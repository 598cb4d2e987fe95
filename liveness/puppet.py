"""Animate a still face photo: eyelids, jaw and 3D head pose moved by warping its face mesh.

Used only to build the evaluation corpus. The face mesh of the photo (mediapipe's 3D landmarks)
is deformed and rotated in 3D, projected back, and the photo is warped triangle by triangle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from liveness.warp import Image, Points, Triangles, triangulate, warp

MESH_POINTS = 468  # the iris points (468-477) are left out of the warp
RIGHT_UPPER = (246, 161, 160, 159, 158, 157, 173)
RIGHT_LOWER = (7, 163, 144, 145, 153, 154, 155)
RIGHT_BROW_RING = (247, 30, 29, 27, 28, 56, 190)
LEFT_UPPER = (466, 388, 387, 386, 385, 384, 398)
LEFT_LOWER = (249, 390, 373, 374, 380, 381, 382)
LEFT_BROW_RING = (467, 260, 259, 257, 258, 286, 414)
INNER_UPPER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
RING_POINTS = 32


@dataclass(frozen=True)
class Pose:
    """One animation state: head angles in degrees, eyelid closure and mouth opening in 0..1,
    in-plane shift in pixels and scale."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    blink: float = 0.0
    mouth: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0


def rotation(yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float64]:
    """Rotation matrix in image axes (x right, y down, z away) for the Pose angle conventions."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    result: npt.NDArray[np.float64] = rz @ ry @ rx
    return result


class FacePuppet:
    """A photo plus its neutral face mesh, rendered in any `Pose`."""

    def __init__(self, image: Image, landmarks: npt.NDArray[np.float32]) -> None:
        self.image = image
        height, width = image.shape[:2]
        self.mesh = landmarks[:MESH_POINTS].astype(np.float64)
        xy = self.mesh[:, :2]
        self.center = np.array([(xy[234, 0] + xy[454, 0]) / 2, (xy[10, 1] + xy[152, 1]) / 2, 0.0])
        half = np.ptp(xy, axis=0) / 2
        angles = np.linspace(0, 2 * math.pi, RING_POINTS, endpoint=False)
        ring = np.stack([self.center[0] + 1.6 * half[0] * np.cos(angles),
                         self.center[1] + 1.5 * half[1] * np.sin(angles)], axis=1)
        border = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1],
                           [width / 2, 0], [width / 2, height - 1], [0, height / 2],
                           [width - 1, height / 2]], dtype=np.float64)
        ring = np.clip(ring, 0, [width - 1, height - 1])
        self.fixed = np.concatenate([ring, border])
        self.src: Points = np.concatenate([xy, self.fixed])
        self.triangles: Triangles = triangulate(self.src, width, height)
        width_mouth = float(np.linalg.norm(xy[78] - xy[308]))
        self._mouth_width = width_mouth
        self._lip_gap_y = float(xy[13, 1] + xy[14, 1]) / 2
        self._mouth_drop = 0.55 * width_mouth
        self._mouth_center = (xy[78] + xy[308]) / 2
        self._face_half_width = float(half[0])

    def _deform(self, pose: Pose) -> npt.NDArray[np.float64]:
        mesh = self.mesh.copy()
        if pose.blink > 0:
            for upper, lower, ring in ((RIGHT_UPPER, RIGHT_LOWER, RIGHT_BROW_RING),
                                       (LEFT_UPPER, LEFT_LOWER, LEFT_BROW_RING)):
                gap = self.mesh[list(lower)] - self.mesh[list(upper)]
                mesh[list(upper)] += pose.blink * 1.0 * gap
                mesh[list(ring)] += pose.blink * 0.5 * gap
        if pose.mouth > 0:
            xy = self.mesh[:, :2]
            # The jaw drops: everything below the middle of the lip gap (or below the mouth
            # corners beside the mouth) moves down; a smile's raised corners stay put.
            half_mouth = self._mouth_width / 2
            beside = np.abs(xy[:, 0] - self._mouth_center[0]) > half_mouth
            split = np.where(beside, self._mouth_center[1], self._lip_gap_y)
            below = xy[:, 1] > split + 0.5
            lower_lip = np.zeros(len(mesh), dtype=bool)
            lower_lip[list(INNER_LOWER_LIP[1:-1])] = True
            upper_lip = np.zeros(len(mesh), dtype=bool)
            upper_lip[list(INNER_UPPER_LIP)] = True
            moving = (below | lower_lip) & ~upper_lip
            lateral = (xy[:, 0] - self._mouth_center[0]) / (0.75 * self._face_half_width)
            weight = np.exp(-lateral ** 2) * moving
            mesh[:, 1] += pose.mouth * self._mouth_drop * weight
        return mesh

    def render(self, pose: Pose) -> Image:
        """The photo warped into `pose`."""
        mesh = self._deform(pose)
        moved = (mesh - self.center) @ rotation(pose.yaw, pose.pitch, pose.roll).T
        moved = moved * pose.scale + self.center
        moved[:, 0] += pose.shift[0]
        moved[:, 1] += pose.shift[1]
        dst = np.concatenate([moved[:, :2], self.fixed])
        depth = np.concatenate([moved[:, 2], np.full(len(self.fixed), 1e6)])
        frame = warp(self.image, src=self.src, dst=dst, triangles=self.triangles, depth=depth)
        if pose.mouth > 0.05:
            lips = np.concatenate([dst[list(INNER_UPPER_LIP)], dst[list(INNER_LOWER_LIP[::-1])]])
            cavity = frame.copy()
            cv2.fillPoly(cavity, [np.round(lips).astype(np.int32)], (28, 22, 45), cv2.LINE_AA)
            alpha = min(1.0, pose.mouth * 1.5)
            frame = np.asarray(cv2.addWeighted(cavity, alpha, frame, 1 - alpha, 0), np.uint8)
        if pose.blink > 0.6:
            # A closed eye shows its lash line along the lid seam.
            lashes = frame.copy()
            thickness = max(1, round(self._face_half_width / 60))
            for upper in (RIGHT_UPPER, LEFT_UPPER):
                seam = np.round(dst[list(upper)]).astype(np.int32)
                cv2.polylines(lashes, [seam], False, (30, 30, 40), thickness, cv2.LINE_AA)
            alpha = (pose.blink - 0.6) / 0.4 * 0.8
            frame = np.asarray(cv2.addWeighted(lashes, alpha, frame, 1 - alpha, 0), np.uint8)
        return frame
