"""The evaluation corpus: bona fide and attack clips synthesised from real face photos.

No face video can be downloaded here, so clips are made by animating still photos that installed
packages ship (scikit-image's `astronaut.png`, matplotlib's `grace_hopper.jpg`) with
`FacePuppet`: blinks, head turns and nods by 3D mesh rotation, mouth opening, plus natural
micro-motion and sensor noise. Attack clips replay the same photos the way attackers would.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import random
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import numpy.typing as npt

from liveness.challenges import Challenge, parse_challenges
from liveness.errors import CorpusError, InvalidChallenge
from liveness.image import rgb_from_bgr

# Re-exported: the corpus generator's public face (callers build a ClipMaker from these).
from liveness.landmarks import FaceMeshDetector as FaceMeshDetector
from liveness.puppet import FacePuppet as FacePuppet
from liveness.puppet import Pose

Image = npt.NDArray[np.uint8]
ATTACK_TYPES = ("static_photo", "photo_jitter", "photo_rigid", "replay_other_order",
                "loop_all_actions", "frozen_frames", "two_faces")
BONA_FIDE = "bona_fide"
CORPUS_FPS = 10
HALVES = ("calibration", "report")
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class FaceSource:
    """A real face photo shipped by an installed package."""

    name: str
    package: str
    relative_path: str
    half: str  # "calibration" or "report": thresholds are chosen on one, reported on the other


FACE_SOURCES = (
    FaceSource("astronaut", "skimage", "data/astronaut.png", "calibration"),
    FaceSource("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "report"),
)


def load_face_photo(source: FaceSource) -> Image:
    """Read the photo from the installed package's directory (the package is not imported)."""
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("missing_photo", f"package {source.package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / source.relative_path
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise CorpusError("missing_photo", f"cannot read {path}")
    return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True)
class Look:
    """Photo-level variation of one clip: framing, light, noise, mirror."""

    width: int = 400
    height: int = 400
    face_fraction: float = 0.4  # face width / frame width
    brightness: float = 1.0  # gain
    gamma: float = 1.0
    noise: float = 2.5  # sensor noise sigma, grey levels
    mirror: bool = False
    roll: float = 0.0  # static tilt of the head, degrees


def frame_photo(photo: Image, landmarks: npt.NDArray[np.float32], look: Look) -> Image:
    """Crop/scale/tilt/mirror and relight a photo so the face has the requested size."""
    xy = landmarks[:, :2]
    face_width = float(np.ptp(xy[:, 0]))
    center = xy.mean(axis=0)
    scale = look.face_fraction * look.width / face_width
    matrix = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), look.roll, scale)
    matrix[0, 2] += look.width / 2 - center[0]
    matrix[1, 2] += look.height * 0.47 - center[1]
    framed = cv2.warpAffine(photo, matrix, (look.width, look.height),
                            flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REFLECT101)
    if look.mirror:
        framed = cv2.flip(framed, 1)
    table = np.clip(255 * ((np.arange(256) / 255) ** look.gamma) * look.brightness, 0, 255)
    return np.asarray(cv2.LUT(framed, table.astype(np.uint8)), dtype=np.uint8)


# -- timelines -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    """`action` (a Challenge value or "neutral") lasting `seconds`, with its peak amplitude."""

    action: str
    seconds: float
    amount: float = 1.0


def _envelope(u: float, ramp: float) -> float:
    """0→1→0 over u in [0, 1] with linear ramps of relative length `ramp`."""
    if u < ramp:
        return u / ramp
    if u > 1 - ramp:
        return max(0.0, (1 - u) / ramp)
    return 1.0


def action_pose(action: str, level: float, amount: float) -> Pose:
    """The pose of an action at envelope `level` (0 neutral, 1 full)."""
    if action == Challenge.BLINK:
        return Pose(blink=level * amount)
    if action == Challenge.TURN_LEFT:
        return Pose(yaw=level * amount)
    if action == Challenge.TURN_RIGHT:
        return Pose(yaw=-level * amount)
    if action == Challenge.NOD:
        return Pose(pitch=-level * amount)
    if action == Challenge.OPEN_MOUTH:
        return Pose(mouth=level * amount)
    return Pose()


class MicroMotion:
    """Smooth random head sway (degrees) and drift (pixels) of a live person."""

    def __init__(self, rng: random.Random, *, degrees: float = 1.8, pixels: float = 2.0) -> None:
        self._phases = [rng.uniform(0, 2 * math.pi) for _ in range(10)]
        self._rates = [rng.uniform(0.15, 0.7) for _ in range(10)]
        self.degrees, self.pixels = degrees, pixels

    def _wave(self, k: int, t: float) -> float:
        a = math.sin(2 * math.pi * self._rates[2 * k] * t + self._phases[2 * k])
        b = math.sin(2 * math.pi * self._rates[2 * k + 1] * t + self._phases[2 * k + 1])
        return 0.65 * a + 0.35 * b

    def at(self, t: float) -> Pose:
        d = self.degrees
        return Pose(yaw=d * self._wave(0, t), pitch=0.8 * d * self._wave(1, t),
                    roll=0.5 * d * self._wave(2, t),
                    shift=(self.pixels * self._wave(3, t), self.pixels * self._wave(4, t)))


def combine(base: Pose, extra: Pose) -> Pose:
    """Sum of two poses (angles and shifts add, closures take the larger)."""
    return Pose(yaw=base.yaw + extra.yaw, pitch=base.pitch + extra.pitch,
                roll=base.roll + extra.roll, blink=max(base.blink, extra.blink),
                mouth=max(base.mouth, extra.mouth),
                shift=(base.shift[0] + extra.shift[0], base.shift[1] + extra.shift[1]),
                scale=base.scale * extra.scale)


def timeline_poses(segments: Sequence[Segment], fps: float, motion: MicroMotion | None,
                   start: float = 0.0) -> Iterator[Pose]:
    """Per-frame poses of a sequence of segments sampled at `fps`, from time `start`."""
    total = sum(s.seconds for s in segments)
    t = start
    while t < total - 1e-9:
        elapsed = 0.0
        pose = Pose()
        for seg in segments:
            if t < elapsed + seg.seconds:
                if seg.action != "neutral":
                    u = (t - elapsed) / seg.seconds
                    ramp = 0.3 if seg.action == Challenge.BLINK else 0.25
                    pose = action_pose(seg.action, _envelope(u, ramp), seg.amount)
                break
            elapsed += seg.seconds
        yield combine(pose, motion.at(t)) if motion else pose
        t += 1 / fps


def action_segment(action: str, rng: random.Random) -> Segment:
    """One natural-looking performance of an action, with varied amplitude and length."""
    if action == Challenge.BLINK:
        return Segment(action, rng.uniform(0.35, 0.5), 1.0)
    if action in (Challenge.TURN_LEFT, Challenge.TURN_RIGHT):
        return Segment(action, rng.uniform(1.0, 1.4), rng.uniform(22, 30))
    if action == Challenge.NOD:
        return Segment(action, rng.uniform(1.0, 1.4), rng.uniform(17, 22))
    return Segment(action, rng.uniform(0.9, 1.3), rng.uniform(0.8, 1.0))


def performance(actions: Sequence[str], rng: random.Random, *, lead: float = 2.6,
                gap: tuple[float, float] = (1.2, 1.7), tail: float = 1.5) -> list[Segment]:
    """A steady lead-in, then each action separated by neutral gaps, then a neutral tail."""
    segments = [Segment("neutral", lead + rng.uniform(0, 0.6))]
    for i, action in enumerate(actions):
        if i:
            segments.append(Segment("neutral", rng.uniform(*gap)))
        segments.append(action_segment(action, rng))
    segments.append(Segment("neutral", tail))
    return segments


def add_noise(frame: Image, sigma: float, rng: np.random.Generator) -> Image:
    """Gaussian sensor noise."""
    noisy = frame.astype(np.float32) + sigma * rng.standard_normal(frame.shape, np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def encode_jpeg(frame: Image, quality: int = 90) -> bytes:
    """JPEG bytes of a frame, as a browser canvas would post them."""
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise CorpusError("encode_failed", "JPEG encoding failed")
    return data.tobytes()


# -- clip makers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipSpec:
    """What a clip shows and which challenge order a session should ask of it."""

    clip_id: str
    kind: str  # "bona_fide" or one of ATTACK_TYPES
    identity: str
    half: str
    performed: tuple[str, ...]
    session_challenges: tuple[str, ...]
    fps: float
    frames: int = 0
    file: str = ""
    digest: str = ""  # BLAKE2b-128 of the clip file, hex (empty in manifests before it)


class ClipMaker:
    """Renders clips of one face photo; detects the photo's landmarks once per look."""

    def __init__(self, detector: FaceMeshDetector) -> None:
        self.detector = detector
        self._photos: dict[str, Image] = {}

    def photo(self, source: FaceSource) -> Image:
        if source.name not in self._photos:
            self._photos[source.name] = load_face_photo(source)
        return self._photos[source.name]

    def puppet(self, source: FaceSource, look: Look) -> FacePuppet:
        """A puppet of the framed photo; raises CorpusError if no face is found in it."""
        photo = self.photo(source)
        faces = self.detector.detect(rgb_from_bgr(photo))
        if not faces:
            raise CorpusError("no_face_in_photo", f"no face found in {source.name}")
        framed = frame_photo(photo, faces[0], look)
        faces = self.detector.detect(rgb_from_bgr(framed))
        if len(faces) != 1:
            raise CorpusError("no_face_in_photo", f"no single face in framed {source.name}")
        return FacePuppet(framed, faces[0])

    def live(self, puppet: FacePuppet, segments: Sequence[Segment], *, fps: float,
             rng: random.Random, noise: float, start: float = 0.0) -> Iterator[Image]:
        """A live performance: poses plus micro-motion plus fresh sensor noise per frame."""
        motion = MicroMotion(rng, degrees=rng.uniform(1.2, 2.5), pixels=rng.uniform(1.0, 3.0))
        noise_rng = np.random.default_rng(rng.getrandbits(32))
        for pose in timeline_poses(segments, fps, motion, start):
            yield add_noise(puppet.render(pose), noise, noise_rng)


def photo_attack(framed: Image, *, kind: str, seconds: float, fps: float, rng: random.Random,
                 noise: float) -> Iterator[Image]:
    """A printed photo before the camera: still, trembling in the hand, or waved around."""
    noise_rng = np.random.default_rng(rng.getrandbits(32))
    height, width = framed.shape[:2]
    motion = MicroMotion(rng, degrees=1.0, pixels=1.0)
    big = kind == "photo_rigid"
    for i in range(int(seconds * fps)):
        t = i / fps
        frame = framed
        if kind != "static_photo":
            wave = motion.at(t * (1.0 if big else 3.0))
            gain = (12.0, 6.0, 0.05) if big else (0.8, 0.3, 0.004)
            angle = gain[1] * wave.roll
            scale = 1 + gain[2] * wave.yaw / motion.degrees
            matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
            matrix[0, 2] += gain[0] * wave.shift[0]
            matrix[1, 2] += gain[0] * wave.shift[1]
            frame = np.asarray(cv2.warpAffine(framed, matrix, (width, height),
                                              flags=cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_REFLECT101), np.uint8)
        yield add_noise(frame, noise, noise_rng)


def paste_second_face(frame: Image, other: Image) -> Image:
    """Put a smaller second face in the lower-right corner."""
    height, width = frame.shape[:2]
    small = cv2.resize(other, (width * 2 // 5, height * 2 // 5), interpolation=cv2.INTER_AREA)
    out = frame.copy()
    out[height - small.shape[0]:, width - small.shape[1]:] = small
    return out


def loop_all_segments(rng: random.Random, seconds: float) -> list[Segment]:
    """Every action in turn with short neutral gaps, repeated for `seconds`."""
    segments: list[Segment] = []
    order = list(Challenge)
    rng.shuffle(order)
    while sum(s.seconds for s in segments) < seconds:
        for action in order:
            segments.append(Segment("neutral", rng.uniform(0.8, 1.1)))
            segments.append(action_segment(action, rng))
    return segments


def random_look(rng: random.Random, *, mirror: bool) -> Look:
    """Framing and lighting variation of one clip."""
    return Look(face_fraction=rng.uniform(0.32, 0.5), brightness=rng.uniform(0.8, 1.15),
                gamma=rng.uniform(0.85, 1.2), noise=rng.uniform(1.5, 4.0), mirror=mirror,
                roll=rng.uniform(-6, 6))


def other_order(order: Sequence[str], rng: random.Random) -> tuple[str, ...]:
    """A different 3-challenge order (a replay of one session shown to another)."""
    while True:
        candidate = tuple(c.value for c in rng.sample(list(Challenge), len(order)))
        if candidate != tuple(order):
            return candidate


def generate_clips(maker: ClipMaker, *, per_half: int, seed: int, fps: float = CORPUS_FPS,
                   attacks_per_type: int = 2, attack_types: Sequence[str] = ATTACK_TYPES,
                   ) -> Iterator[tuple[ClipSpec, list[bytes]]]:
    """Yield (spec, JPEG frames) for `per_half` bona fide clips and `attacks_per_type` clips of
    each attack type in each half of the corpus (halves split by identity)."""
    rng = random.Random(seed)
    for source in FACE_SOURCES:
        others = [s for s in FACE_SOURCES if s is not source]
        for n in range(per_half):
            look = random_look(rng, mirror=n % 2 == 1)
            order = tuple(c.value for c in rng.sample(list(Challenge), 3))
            puppet = maker.puppet(source, look)
            frames = maker.live(puppet, performance(order, rng), fps=fps, rng=rng,
                                noise=look.noise)
            spec = ClipSpec(f"{source.name}-bona-{n:02d}", BONA_FIDE, source.name, source.half,
                            order, order, fps)
            yield spec, [encode_jpeg(f) for f in frames]
        for kind in attack_types:
            for n in range(attacks_per_type):
                look = random_look(rng, mirror=n % 2 == 1)
                order = tuple(c.value for c in rng.sample(list(Challenge), 3))
                puppet = maker.puppet(source, look)
                clip_id = f"{source.name}-{kind}-{n:02d}"
                performed: tuple[str, ...] = ()
                asked = order
                if kind in ("static_photo", "photo_jitter", "photo_rigid"):
                    images = list(photo_attack(puppet.image, kind=kind, seconds=12.0, fps=fps,
                                               rng=rng, noise=look.noise))
                elif kind == "replay_other_order":
                    performed = order
                    asked = other_order(order, rng)
                    images = list(maker.live(puppet, performance(order, rng), fps=fps, rng=rng,
                                             noise=look.noise))
                elif kind == "loop_all_actions":
                    segments = loop_all_segments(rng, 16.0)
                    performed = tuple(s.action for s in segments if s.action != "neutral")
                    images = list(maker.live(puppet, segments, fps=fps, rng=rng,
                                             noise=look.noise))
                elif kind == "frozen_frames":
                    performed = order
                    images = list(maker.live(puppet, performance(order, rng), fps=fps, rng=rng,
                                             noise=look.noise))
                    start = rng.randrange(len(images) // 4, len(images) // 2)
                    for i in range(start + 1, min(start + int(1.5 * fps), len(images))):
                        images[i] = images[start]
                else:  # two_faces
                    performed = order
                    other = maker.puppet(others[0], replace(look, mirror=False)).image
                    images = [paste_second_face(f, other) for f in
                              maker.live(puppet, performance(order, rng), fps=fps, rng=rng,
                                         noise=look.noise)]
                spec = ClipSpec(clip_id, kind, source.name, source.half, performed, asked, fps)
                yield spec, [encode_jpeg(f) for f in images]


# -- files -----------------------------------------------------------------------------------

def write_clip(path: Path, frames: Sequence[bytes], fps: float) -> None:
    """Write JPEG frames as an MJPEG AVI (frames are stored without re-encoding by OpenCV's
    decoder round trip: each JPEG is decoded and written at quality 95)."""
    first = cv2.imdecode(np.frombuffer(frames[0], np.uint8), cv2.IMREAD_COLOR)
    height, width = first.shape[:2]
    fourcc = cv2.VideoWriter.fourcc(*"MJPG")
    # Through the directory's descriptor: OpenCV crashes on a path that is not valid UTF-8.
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        writer = cv2.VideoWriter(f"{_opencv_path(folder, path.parent)}/{path.name}", fourcc,
                                 fps, (width, height))
        if not writer.isOpened():
            raise CorpusError("write_failed", f"cannot write video {path}")
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
        try:
            for data in frames:
                writer.write(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
        finally:
            writer.release()
    finally:
        os.close(folder)


MAX_VIDEO_SIDE = 4096
_LOG_LEVEL_ERROR = 2  # cv::utils::logging::LOG_LEVEL_ERROR (warnings off)
_STILL_IMAGES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
                 (b"GIF89a", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _still_image(head: bytes) -> str | None:
    """The format of a still image file from its first bytes (FFmpeg would read it as a
    one-frame video), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _STILL_IMAGES if head.startswith(magic)), None)


def _opencv_path(fd: int, path: Path) -> str:
    """A name under which OpenCV opens the file (or directory) open as `fd`.

    `/proc/self/fd/N` refers to exactly the file checked through `fd` (it cannot be swapped for
    a FIFO in between), is plain ASCII (OpenCV 4.11 crashes with a segmentation fault on a path
    that is not valid UTF-8) and is never read by FFmpeg as a protocol (`concat:`, `http:`).
    """
    if os.path.isdir("/proc/self/fd"):
        return f"/proc/self/fd/{fd}"
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise CorpusError("unreadable_video", f"{path}: OpenCV cannot open a path that is not "
                                              "valid UTF-8") from None
    return str(path)


class VideoFile:
    """An open video file, decoded one frame at a time.

    Frames are never all held at once: a minute of 4K video is tens of gigabytes decoded. The
    frame size is checked from the container before any frame is decoded.
    """

    def __init__(self, path: Path, *, max_side: int = MAX_VIDEO_SIDE) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise CorpusError("no_such_video", f"no such file: {path}") from None
        except OSError as exc:
            raise CorpusError("unreadable_video",
                              f"cannot read {path}: {exc.strerror}") from None
        try:
            mode = os.fstat(self._fd).st_mode
            if stat.S_ISDIR(mode):
                raise CorpusError("unreadable_video", f"{path} is a directory, not a video file")
            if not stat.S_ISREG(mode):
                raise CorpusError("unreadable_video", f"{path} is not a regular file (a FIFO or "
                                                      "device cannot be read as a video)")
            head = os.pread(self._fd, 16, 0)
            if not head:
                raise CorpusError("unreadable_video", f"{path} is empty (zero bytes)")
            image = _still_image(head)
            if image:
                raise CorpusError("not_a_video", f"{path} is a still {image} image, not a video")
            # FFmpeg only: OpenCV's fallback readers print their own lines on stderr, and
            # OpenCV warns when FFmpeg cannot open the file (the error says so instead).
            level = cv2.setLogLevel(_LOG_LEVEL_ERROR)
            try:
                self._capture = cv2.VideoCapture(_opencv_path(self._fd, path), cv2.CAP_FFMPEG)
            finally:
                cv2.setLogLevel(level)
            if not self._capture.isOpened():
                raise CorpusError("unreadable_video", f"cannot open video {path}")
            width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            if max(width, height) > max_side:
                self._capture.release()
                raise CorpusError("video_too_large", f"{path} is {width}x{height}; the limit "
                                                     f"is {max_side} px a side")
        except BaseException:
            os.close(self._fd)
            raise
        self.max_side = max_side
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.fps = fps if math.isfinite(fps) and 1 <= fps <= 240 else 30.0

    def frames(self, wanted: Callable[[int], bool] = lambda _: True
               ) -> Iterator[tuple[int, Image | None]]:
        """(index, frame) for every frame in order; frames not `wanted` are skipped without
        conversion and come as (index, None)."""
        index = 0
        while self._capture.grab():
            if not wanted(index):
                yield index, None
            else:
                ok, frame = self._capture.retrieve()
                if not ok:
                    return
                if max(frame.shape[:2]) > self.max_side:
                    raise CorpusError("video_too_large", f"frames of {self.path} exceed "
                                                         f"{self.max_side} px")
                yield index, np.asarray(frame, dtype=np.uint8)
            index += 1

    def close(self) -> None:
        if self._fd >= 0:
            self._capture.release()
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def file_digest(path: Path) -> str:
    """BLAKE2b-128 of a file's bytes, hex (the manifest records one per clip)."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def corpus_out_problem(directory: Path) -> str | None:
    """Why generate-corpus must not write to `directory` (None when it may).

    It may when the directory is absent, empty, or a corpus (only `manifest.json` and `.avi`
    clips): that corpus is then replaced as a whole once the new one is complete.
    """
    if not directory.exists():
        parent = next((p for p in directory.parents if p.exists()), Path("."))
        if not parent.is_dir():
            return f"cannot be created: {parent} is not a directory"
        return None if os.access(parent, os.W_OK) else "cannot be created: permission denied"
    if not directory.is_dir():
        return "is not a directory"
    try:
        names = [entry.name for entry in directory.iterdir()]
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    others = [n for n in names if n != MANIFEST and not n.endswith(".avi")]
    if others:
        return (f"holds files that are not part of a corpus ({sorted(others)[0]}, ...); "
                "choose an empty or new directory")
    if not os.access(directory.parent, os.W_OK):
        return "cannot be replaced: permission denied"
    return None


def write_corpus(directory: Path, clips: Iterator[tuple[ClipSpec, list[bytes]]]) -> list[ClipSpec]:
    """Write each clip as `<id>.avi` plus `manifest.json`; returns the specs written.

    Everything is written to a new sibling directory that replaces `directory` only once the
    manifest is written: an interrupted run leaves `directory` as it was (a previous corpus
    stays whole, never mixed with new clips) and removes its partial files.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    partial = directory.with_name(f".{directory.name}.partial-{secrets.token_hex(6)}")
    partial.mkdir()
    try:
        written: list[ClipSpec] = []
        for spec, frames in clips:
            name = f"{spec.clip_id}.avi"
            write_clip(partial / name, frames, spec.fps)
            written.append(replace(spec, frames=len(frames), file=name,
                                   digest=file_digest(partial / name)))
        manifest = {"fps": CORPUS_FPS, "clips": [asdict(s) for s in written]}
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if directory.exists():
            old = partial.with_name(partial.name.replace(".partial-", ".old-"))
            directory.rename(old)
            try:
                partial.rename(directory)
            except BaseException:
                old.rename(directory)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            partial.rename(directory)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return written


MAX_MANIFEST_BYTES = 16 * 1024 * 1024


def _read_regular_file(path: Path, what: str) -> bytes:
    """The bytes of `path`; `CorpusError` unless it is a readable regular file.

    Opened non-blocking and checked with fstat, so a FIFO or a device is refused instead of
    hanging on the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CorpusError("bad_manifest", f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise CorpusError("bad_manifest", f"{what} {path} is {kind}")
        data = b""
        while len(data) <= MAX_MANIFEST_BYTES and (chunk := os.read(fd, 1 << 20)):
            data += chunk
    except OSError as exc:
        raise CorpusError("bad_manifest", f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_MANIFEST_BYTES:
        raise CorpusError("bad_manifest", f"{what} {path} is larger than 16 MB")
    return data


def _clip_spec(item: object, number: int) -> ClipSpec:
    """One manifest entry as a `ClipSpec`; ValueError says which field is wrong."""
    if not isinstance(item, dict):
        raise ValueError(f"clip {number} is not an object")
    if "fps" not in item:
        raise ValueError(f"clip {number}: fps is missing")
    fps = item["fps"]
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not math.isfinite(fps) \
            or not 0 < fps <= 240:
        raise ValueError(f"clip {number}: fps must be a number above 0 and at most 240, "
                         f"not {fps!r}")
    for name in ("clip_id", "kind", "identity", "half", "file"):
        if not isinstance(item.get(name), str) or not item[name]:
            raise ValueError(f"clip {number}: {name} must be a non-empty string")
    if PurePosixPath(item["file"]).name != item["file"] or item["file"] in (".", ".."):
        raise ValueError(f"clip {number}: file must be a plain file name inside the corpus "
                         f"directory, not {item['file']!r}")
    if item["kind"] not in (BONA_FIDE, *ATTACK_TYPES):
        raise ValueError(f"clip {number}: unknown kind {item['kind']!r}; known: "
                         f"{', '.join((BONA_FIDE, *ATTACK_TYPES))}")
    if item["half"] not in HALVES:
        raise ValueError(f"clip {number}: half must be one of {', '.join(HALVES)}, "
                         f"not {item['half']!r}")
    frames = item.get("frames")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"clip {number}: frames must be a whole number >= 1 (the clip's "
                         "frame count)")
    digest = item.get("digest", "")
    if not isinstance(digest, str) or (digest and not re.fullmatch(r"[0-9a-f]{32}", digest)):
        raise ValueError(f"clip {number}: digest must be 32 lowercase hex digits")
    lists = {}
    for name in ("performed", "session_challenges"):
        value = item.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"clip {number}: {name} must be a list of challenge names")
        lists[name] = value
    unknown = sorted(set(item) - {f.name for f in fields(ClipSpec)})
    if unknown:
        raise ValueError(f"clip {number}: unknown field(s) {', '.join(unknown)}")
    try:
        session_challenges = tuple(parse_challenges(lists["session_challenges"]))
    except InvalidChallenge as exc:
        raise ValueError(f"clip {number}: session_challenges: {exc.message}") from None
    return ClipSpec(clip_id=item["clip_id"], kind=item["kind"], identity=item["identity"],
                    half=item["half"], performed=tuple(lists["performed"]),
                    session_challenges=session_challenges, fps=fps, frames=frames,
                    file=item["file"], digest=digest)


def _check_split(specs: Sequence[ClipSpec]) -> None:
    """Clip ids and files are unique, and no identity is in both halves (thresholds chosen on
    a face would otherwise be reported on the same face)."""
    for name in ("clip_id", "file"):
        seen: set[str] = set()
        for number, spec in enumerate(specs, 1):
            value = getattr(spec, name)
            if value in seen:
                raise ValueError(f"clip {number}: {name} {value!r} is listed twice")
            seen.add(value)
    halves: dict[str, str] = {}
    for number, spec in enumerate(specs, 1):
        if halves.setdefault(spec.identity, spec.half) != spec.half:
            raise ValueError(f"clip {number}: identity {spec.identity!r} is in both halves "
                             "(the split is by identity)")


def check_clip_files(directory: Path, specs: Sequence[ClipSpec]) -> None:
    """Every clip the manifest lists is a regular file with the recorded digest (checked
    before any slow analysis)."""
    for spec in specs:
        path = directory / spec.file
        try:
            mode = path.stat().st_mode
        except OSError:
            raise CorpusError("missing_clip", f"clip {spec.clip_id}: {path} is missing (the "
                                              "corpus is incomplete; run generate-corpus "
                                              "again)") from None
        if not stat.S_ISREG(mode):
            raise CorpusError("missing_clip", f"clip {spec.clip_id}: {path} is not a regular "
                                              "file")
        if spec.digest and file_digest(path) != spec.digest:
            raise CorpusError("clip_mismatch", f"clip {spec.clip_id}: {path} is not the file "
                                               "the manifest lists (damaged or replaced; run "
                                               "generate-corpus again)")


def read_manifest(directory: Path) -> list[ClipSpec]:
    """The clip specs of a corpus directory; raises CorpusError when missing or malformed."""
    if directory.exists() and not directory.is_dir():
        raise CorpusError("no_corpus", f"{directory} is not a directory (the corpus is a "
                                       "directory made by generate-corpus)")
    path = directory / MANIFEST
    try:
        raw = json.loads(_read_regular_file(path, "corpus manifest"))
        clips = raw.get("clips") if isinstance(raw, dict) else None
        if not isinstance(clips, list):
            raise ValueError("it has no list of clips")
        specs = [_clip_spec(item, number) for number, item in enumerate(clips, 1)]
        _check_split(specs)
        return specs
    except FileNotFoundError:
        raise CorpusError("no_corpus", f"no corpus at {directory} (run generate-corpus)") from None
    except ValueError as exc:  # also JSON and UTF-8 decoding errors
        raise CorpusError("bad_manifest", f"malformed {path}: {exc}") from None


# -- browser clip ----------------------------------------------------------------------------

def browser_segments(challenges: Sequence[str], rng: random.Random) -> list[Segment]:
    """One loop of the browser clip: a long steady lead, then the actions with short gaps.

    Only the lead is longer than the session's steady period (1.5 s), so however the looping
    clip is phased against the session, the first prompt is issued during the lead and each
    action follows its prompt; the gaps (1.0 s) still leave room for the 0.4 s neutral wait.
    """
    segments = [Segment("neutral", 3.2)]
    for i, action in enumerate(parse_challenges(challenges)):
        if i:
            segments.append(Segment("neutral", 1.0))
        seg = action_segment(action, rng)
        segments.append(replace(seg, seconds=min(seg.seconds, 1.1)))
    segments.append(Segment("neutral", 1.0))
    return segments


def make_browser_clip(*, challenges: Sequence[str], width: int = 640, height: int = 480,
                      fps: int = 30, seed: int = 7,
                      detector: FaceMeshDetector | None = None) -> list[Image]:
    """Frames of a loopable clip performing `challenges` in order (for Chromium's fake camera)."""
    rng = random.Random(seed)
    maker = ClipMaker(detector or FaceMeshDetector(max_faces=1))
    look = Look(width=width, height=height, face_fraction=0.34, noise=2.0)
    puppet = maker.puppet(FACE_SOURCES[1], look)
    segments = browser_segments(challenges, rng)
    return list(maker.live(puppet, segments, fps=fps, rng=rng, noise=look.noise))


def write_y4m(path: str | Path, frames: Sequence[Image], fps: int = 30) -> None:
    """Write BGR frames as a YUV4MPEG2 4:2:0 file (Chromium's --use-file-for-fake-video-capture)."""
    if not frames:
        raise CorpusError("no_frames", "a Y4M file needs at least one frame")
    height, width = frames[0].shape[:2]
    if width % 2 or height % 2:
        raise CorpusError("odd_size", "Y4M 4:2:0 needs even width and height")
    with Path(path).open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in frames:
            if frame.shape[:2] != (height, width):
                raise CorpusError("size_mismatch", "all Y4M frames must have the same size")
            # OpenCV's I420 layout is exactly Y4M's planar Y, U, V.
            yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)
            out.write(b"FRAME\n")
            out.write(yuv.tobytes())
