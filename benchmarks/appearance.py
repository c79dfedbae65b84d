#!/usr/bin/env python3
"""Speed of the Appearance Expert's CPU paths, each against a straightforward baseline timed in the same run.

    python benchmarks/appearance.py            # 720x1280, 120 frames
    python benchmarks/appearance.py --quick    # 360x640, 30 frames

* pose video (goal >= 100 frames/s at 720x1280): ``PoseVideo.frame`` (limb ellipses for all limbs at once in
  numpy, one ``fillConvexPoly`` per limb into a reused buffer) vs the classic controlnet_aux/DWPose drawing
  loop (``cv2.ellipse2Poly`` per limb, a canvas copy + ``addWeighted`` per limb for the 60 % limb colour);
* ARAP: the prefactored two-step solve per frame vs factorising the same normal equations every frame;
* puppet drawing: one triangle-index raster + one ``cv2.remap`` per frame vs a ``cv2.warpAffine`` per triangle
  (the obvious GL-free port of AnimatedDrawings' renderer);
* the whole default renderer (puppet + H.264 encoding) in frames/s, against real time (the motion's fps);
* reference analysis per real photo (../shared/data/photos or $MACE_SHARED_DATA/photos, when present): person
  detection + mask (BlazePose, one pass per person plus the pass that finds nobody else), then placing,
  background plate, layers and mesh; the background plate by patch-based inpainting (``remove_person``) vs the
  earlier Telea fill at 256 px; and the renderer's frames/s at the photo's default frame (drawing only, and
  end to end with H.264);

    python benchmarks/appearance.py --bodies   # only the 2.5-D body against the 2D puppet, real photos, 720p

* the 2.5-D body (``PuppetOptions.body="2.5d"``, :mod:`backend.appearance.body25d`) against the 2D puppet on
  each real photo at 720p (short side 720, the photo's aspect): set-up after the analysis (template fit, warp,
  hidden-part fill, meshes vs plate-free layers + mesh + ARAP factorisation) and drawing frames/s of the same
  motion, both in the same run; the goal is real time (30 frames/s) for the drawing;

    python benchmarks/appearance.py --wan-memory   # Wan-Animate memory in song length (tiny random pipeline)

* Wan-Animate memory (goal: peak <= 1.2x from 1x to 16x the frames): the streaming renderer
  (``WanAnimateRenderer.render``: segment after segment, frames encoded as they come) against one call of
  diffusers' ``WanAnimatePipeline`` holding the whole video, on a tiny random pipeline; each size runs in a
  fresh process; peak host RSS (and peak CUDA memory where there is a GPU), total and above the loaded model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from backend.appearance import RenderRequest  # noqa: E402
from backend.appearance.arap import ARAPDeformer  # noqa: E402
from backend.appearance.pose_video import KEYPOINT_COLORS, LIMB_COLORS, PoseVideo, PoseVideoOptions  # noqa: E402
from backend.appearance.puppet import Puppet, PuppetAnimation, PuppetOptions, PuppetRenderer  # noqa: E402
from shared.motion import Motion  # noqa: E402

FPS = 30.0


def dance(num_frames: int, seed: int = 0) -> Motion:
    """Smooth random motion (sums of sines) with arm and leg swings big enough to bend the puppet."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None, None] / FPS
    freq, phase = rng.uniform(0.3, 1.5, (1, 24, 3)), rng.uniform(0, 6.3, (1, 24, 3))
    amp = np.full((1, 24, 3), 0.15)
    amp[:, [16, 17, 18, 19, 1, 2, 4, 5]] = 0.7
    poses = (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)
    poses[:, 0] = 0.0
    trans = np.zeros((num_frames, 3), np.float32)
    trans[:, 1] = 0.95
    return Motion(poses=poses, trans=trans, fps=FPS)


def person(width: int, height: int) -> np.ndarray:
    """A flat-coloured person in an A-pose on a plain background (as the tests draw it)."""
    image = np.full((height, width, 3), (235, 235, 225), np.uint8)
    unit, cx = height / 100.0, width / 2.0

    def at(x, y):
        return int(round(cx + x * unit)), int(round(y * unit))

    thick = max(int(3.2 * unit), 2)
    for side in (-1, 1):
        cv2.line(image, at(4 * side, 55), at(6 * side, 92), (40, 60, 160), thick + 1)
        cv2.line(image, at(10 * side, 23), at(20 * side, 36), (200, 40, 40), thick)
        cv2.line(image, at(20 * side, 36), at(26 * side, 46), (224, 172, 140), thick)
    cv2.fillConvexPoly(image, np.array([at(-10, 22), at(10, 22), at(8, 56), at(-8, 56)]), (200, 40, 40))
    cv2.line(image, at(0, 16), at(0, 23), (224, 172, 140), thick)
    cv2.ellipse(image, at(0, 11), (int(5 * unit), int(6.5 * unit)), 0, 0, 360, (224, 172, 140), -1)
    return image


def rate(fn, count: int) -> float:
    """Items per second of ``fn(i)`` over ``count`` items (best of two passes)."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        for i in range(count):
            fn(i)
        best = min(best, time.perf_counter() - start)
    return count / best


def classic_pose_frame(keypoints: np.ndarray, visible: np.ndarray, limbs, width: int, height: int, stick: int):
    """controlnet_aux's original ``draw_bodypose``: a canvas copy and a blend per limb."""
    canvas = np.zeros((height, width, 3), np.uint8)
    for i, (a, b) in enumerate(limbs):
        if not (visible[a] and visible[b]):
            continue
        (x0, y0), (x1, y1) = keypoints[a], keypoints[b]
        length = float(np.hypot(x1 - x0, y1 - y0))
        angle = float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))
        polygon = cv2.ellipse2Poly((int((x0 + x1) / 2), int((y0 + y1) / 2)), (int(length / 2), stick), int(angle), 0, 360, 1)
        layer = canvas.copy()
        cv2.fillConvexPoly(layer, polygon, LIMB_COLORS[i])
        canvas = cv2.addWeighted(canvas, 0.4, layer, 0.6, 0)
    for k in range(len(keypoints)):
        if visible[k]:
            cv2.circle(canvas, (int(keypoints[k, 0]), int(keypoints[k, 1])), stick, KEYPOINT_COLORS[k], -1)
    return canvas


def warp_affine_per_triangle(puppet: Puppet, vertices: np.ndarray) -> np.ndarray:
    """Draw the deformed puppet one triangle at a time with cv2.warpAffine (the baseline rasteriser)."""
    height, width = puppet.image.shape[:2]
    frame = puppet.background.astype(np.float32)
    texture = puppet._texture.astype(np.float32)
    for triangle in puppet.mesh.triangles:
        src, dst = puppet.mesh.vertices[triangle].astype(np.float32), vertices[triangle].astype(np.float32)
        x, y, w, h = cv2.boundingRect(dst)
        if w <= 0 or h <= 0:
            continue
        matrix = cv2.getAffineTransform(src, dst - np.float32([x, y]))
        patch = cv2.warpAffine(texture, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        mask = np.zeros((h, w), np.float32)
        cv2.fillConvexPoly(mask, np.round(dst - [x, y]).astype(np.int32), 1.0)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
        if x1 <= x0 or y1 <= y0:
            continue
        sub = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
        alpha = (patch[sub][..., 3:] / 255.0) * mask[sub][..., None]
        frame[y0:y1, x0:x1] = frame[y0:y1, x0:x1] * (1 - alpha) + patch[sub][..., :3] * alpha
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


# --- Wan-Animate memory in song length ----------------------------------------------------------------------
WAN_SIZE = (64, 96)  # width, height of the tiny pipeline's video
WAN_SEGMENT = 9  # frames per segment
WAN_BASE_FRAMES = 17  # 1x: two 9-frame segments overlapping by one frame


class PeakMemory:
    """Peak resident memory of this process (sampled every 2 ms) and peak CUDA memory, from ``start()``."""

    def __init__(self):
        import psutil

        self.process, self.peak, self._stop = psutil.Process(), 0, threading.Event()

    def __enter__(self):
        import torch

        self.base = self.peak = self.process.memory_info().rss
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.cuda_base = torch.cuda.memory_allocated()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        import torch

        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.cuda_peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
        return False


def wan_memory_child(frames: int, mode: str) -> dict:
    """One render of ``frames`` frames in this process (``mode`` "stream" or "whole"); returns its peaks."""
    import torch
    from PIL import Image

    from backend.appearance.wan import WanAnimateOptions, WanAnimateRenderer
    from tests.backend.appearance.conftest import build_tiny_wan_animate_pipeline

    torch.set_num_threads(2)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pipe = build_tiny_wan_animate_pipeline().to(device)
    width, height = WAN_SIZE
    options = WanAnimateOptions(steps=1, segment_frame_length=WAN_SEGMENT, dtype="float32", device=device,
                                prompt_embeds=torch.randn(1, 16, 32), model_fps=FPS)  # fmt: skip
    renderer = WanAnimateRenderer(pipeline=pipe, options=options)
    with tempfile.TemporaryDirectory() as folder:
        def request(count):
            return RenderRequest(dance(count), person(width, height), width=width, height=height,
                                 out_path=Path(folder) / "w.mp4")  # fmt: skip

        renderer.render(request(WAN_SEGMENT))  # warm-up: allocator pools, encoder, lazy imports
        with PeakMemory() as memory:
            if mode == "stream":
                renderer.render(request(frames))
            else:  # the pipeline's own call: every pose/face frame in, the whole video out
                req = request(frames)
                pose = req.pose_video(req.motion, None, hands=True)
                image = req.canvas_reference().image
                pipe(image=Image.fromarray(image), pose_video=[Image.fromarray(f) for f in pose.frames()],
                     face_video=[Image.new("RGB", (16, 16))] * frames, height=height, width=width,
                     num_inference_steps=1, segment_frame_length=WAN_SEGMENT, prompt_embeds=options.prompt_embeds,
                     output_type="np")  # fmt: skip
    return {"peak": memory.peak, "extra": memory.peak - memory.base,
            "cuda_peak": memory.cuda_peak, "cuda_extra": None if memory.cuda_peak is None else memory.cuda_peak - memory.cuda_base}


def wan_memory() -> None:
    """Peak memory of a Wan render at 1x, 4x and 16x the frames, streaming vs the whole-video pipeline call."""
    width, height = WAN_SIZE
    print(f"Wan-Animate memory: tiny random pipeline, {width}x{height}, segments of {WAN_SEGMENT} frames, 1 step; "
          f"1x = {WAN_BASE_FRAMES} frames; each run in a fresh process")
    mb = 1 / 2**20
    for mode, label in (("stream", "streaming renderer"), ("whole", "pipeline, whole video")):
        rows = {}
        for factor in (1, 4, 16):
            frames = (WAN_BASE_FRAMES - 1) * factor + 1
            out = subprocess.run([sys.executable, __file__, "--wan-memory-child", str(frames), mode],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            rows[factor] = json.loads(out.stdout.strip().splitlines()[-1])
            r = rows[factor]
            cuda = "" if r["cuda_peak"] is None else f"   CUDA peak {r['cuda_peak'] * mb:7.1f} MB (+{r['cuda_extra'] * mb:6.1f})"
            print(f"  {label:22s} {factor:2d}x {frames:4d} frames: host peak {r['peak'] * mb:7.1f} MB "
                  f"(+{r['extra'] * mb:6.1f} MB over the loaded model){cuda}")
        ratio = rows[16]["peak"] / rows[1]["peak"]
        extra = rows[16]["extra"] / max(rows[1]["extra"], 1)
        verdict = "meets" if ratio <= 1.2 else "misses"
        line = f"  {label:22s} 16x/1x: host peak x{ratio:4.2f} ({verdict} the <= 1.2x goal), above the model x{extra:4.2f}"
        if rows[1]["cuda_peak"] is not None:
            line += f", CUDA peak x{rows[16]['cuda_peak'] / rows[1]['cuda_peak']:4.2f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="360x640 and 30 frames")
    parser.add_argument("--wan-memory", action="store_true", help="only the Wan-Animate memory benchmark")
    parser.add_argument("--bodies", action="store_true", help="only the 2.5-D body against the puppet, real photos")
    parser.add_argument("--wan-memory-child", nargs=2, metavar=("FRAMES", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.wan_memory_child:
        print(json.dumps(wan_memory_child(int(args.wan_memory_child[0]), args.wan_memory_child[1])))
        return
    if args.wan_memory:
        wan_memory()
        return
    if args.bodies:
        bodies_on_photos()
        return
    width, height, frames = (360, 640, 30) if args.quick else (720, 1280, 120)
    motion = dance(frames)
    print(f"canvas {width}x{height}, {frames} frames at {FPS:g} fps")

    # Pose video.
    pose = PoseVideo(motion, PoseVideoOptions(width=width, height=height))
    buffer = np.zeros((height, width, 3), np.uint8)
    ours = rate(lambda i: pose.frame(i, buffer), frames)
    stick = pose.style.sizes(height, width)[0]
    limbs = pose.style.limbs
    base = rate(lambda i: classic_pose_frame(pose.keypoints[i], pose.visible[i], limbs, width, height, stick), frames)
    verdict = "meets" if ours >= 100 else "misses"
    print(f"pose video      : {ours:8.1f} frames/s   classic per-limb blend {base:8.1f} frames/s   x{ours / base:5.1f}"
          f"   ({verdict} the 100 frames/s goal)")

    # Puppet set-up, ARAP and drawing.
    start = time.perf_counter()
    puppet = Puppet.from_photo(person(width, height))
    setup = time.perf_counter() - start
    animation = PuppetAnimation.from_motion(motion, puppet)
    targets = []
    for i in range(frames):
        root = (animation.rig_plane[i, 0] - animation.rig_plane[0, 0]) * animation.scale
        posed = puppet.pose_rig(animation.rig_plane[i], animation.bone_lengths[i], root)
        targets.append(puppet.handle_targets(posed))
    deformer = puppet.deformer
    print(f"puppet set-up   : {setup:8.2f} s ({len(puppet.mesh.vertices)} vertices, {len(puppet.mesh.triangles)} triangles)")

    ours = rate(lambda i: deformer.deform(targets[i]), frames)
    mesh = puppet.mesh
    unfactored = ARAPDeformer(mesh.vertices, mesh.triangles, mesh.handles, deformer.edge_weights, prefactor=False)
    base = rate(lambda i: unfactored.deform(targets[i]), frames)
    print(f"ARAP deform     : {ours:8.1f} frames/s   factorising every frame {base:8.1f} frames/s   x{ours / base:5.1f}")

    vertices = [deformer.deform(t) for t in targets]
    ours = rate(lambda i: puppet.draw(vertices[i], animation.bone_depth[i]), frames)
    count = min(frames, 10)
    base = rate(lambda i: warp_affine_per_triangle(puppet, vertices[i]), count)
    print(f"puppet drawing  : {ours:8.1f} frames/s   warpAffine per triangle {base:8.1f} frames/s   x{ours / base:5.1f}")

    # The whole default renderer, H.264 included.
    with tempfile.TemporaryDirectory() as folder:
        request = RenderRequest(motion, person(width, height), width=width, height=height, out_path=Path(folder) / "b.mp4")
        start = time.perf_counter()
        PuppetRenderer().render(request)
        elapsed = time.perf_counter() - start
    print(f"default renderer: {frames / elapsed:8.1f} frames/s end to end (set-up + H.264)   "
          f"x{frames / elapsed / FPS:5.2f} of real time at {FPS:g} fps")
    wan_memory()

    analyse_photos(width, height)
    bodies_on_photos()


def real_photos() -> list[Path]:
    """The real photos beside the clone (../shared/data/photos or $MACE_SHARED_DATA/photos), [] if absent."""
    import os

    shared = os.environ.get("MACE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
    photos = Path(shared) / "photos"
    return sorted([*photos.glob("*.png"), *photos.glob("*.jpg")]) if photos.is_dir() else []


def bodies_on_photos(frames: int = 120) -> None:
    """The 2.5-D body against the 2D puppet on each real photo at 720p: set-up after the analysis and drawing
    frames/s of the same motion, measured in the same run."""
    import os

    from backend.appearance.body25d import BodyAnimation, PhotoBody
    from backend.appearance.perception import NoPersonError, analyse_reference
    from backend.appearance.reference import load_reference_image

    photos = real_photos()
    if not photos:
        print("2.5-D body vs puppet: ../shared/data/photos not found, skipped")
        return
    load = os.getloadavg()[0]
    print(f"2.5-D body vs 2D puppet at 720p (short side 720), {frames} frames (load average {load:.2f} at the start):")
    for path in photos:
        image = load_reference_image(path).rgb
        try:
            person = analyse_reference(image, name=path.name)
        except NoPersonError:
            continue
        side = {"width": 720} if image.shape[1] <= image.shape[0] else {"height": 720}
        request = RenderRequest(dance(frames), image, **side)
        request._reference = person  # analysed once, for both bodies
        reference = request.canvas_reference()
        start = time.perf_counter()
        puppet = Puppet(reference)
        puppet_animation = PuppetAnimation.from_motion(request.motion, puppet)
        puppet_setup = time.perf_counter() - start
        start = time.perf_counter()
        body = PhotoBody(reference)
        body_animation = BodyAnimation.from_motion(request.motion, body)
        body_setup = time.perf_counter() - start
        body_animation.frame(body, 0)  # the rasteriser compiled (or loaded from numba's cache) before timing
        buffer = np.empty_like(reference.image)
        puppet_rate = rate(lambda i: puppet_animation.frame(puppet, i, buffer), frames)
        body_rate = rate(lambda i: body_animation.frame(body, i, buffer), frames)
        verdict = "meets" if body_rate >= FPS else "misses"
        print(f"  {path.name:20s} {request.width}x{request.height}: 2.5-D body {body_rate:6.1f} frames/s "
              f"(set-up {body_setup:5.2f} s, {len(body.triangles)} triangles)   puppet {puppet_rate:6.1f} frames/s "
              f"(set-up {puppet_setup:5.2f} s)   x{body_rate / puppet_rate:4.2f}   ({verdict} real time)")
        if "legs" not in person.cut_off:  # a waist-up photo is never re-placed
            travelling_setup(request, person)


def travelling_setup(request: RenderRequest, person) -> None:
    """The 2.5-D body's set-up for a dance that travels out of shot: the renderer's (the stage fit on the fitted
    pose alone, the textured body built once where the photo is re-placed) against building the body at the
    photo's placement and again at the re-placed one, the way it was done before; same plate, same run."""
    from backend.appearance.body25d import BodyAnimation, PhotoBody

    motion = Motion(request.motion.poses, request.motion.trans.copy(), request.motion.fps)
    motion.trans[:, 0] = np.linspace(-1.5, 1.5, len(motion.trans))  # across the stage
    travelling = RenderRequest(motion, request.reference_image, width=request.width, height=request.height,
                               renderer_options=PuppetOptions(body="2.5d"))  # fmt: skip
    travelling._reference, travelling._plate = person, request._plate  # analysed and inpainted once already
    start = time.perf_counter()
    PuppetRenderer().prepare(travelling)
    once = time.perf_counter() - start
    start = time.perf_counter()
    body = PhotoBody(travelling.canvas_reference())
    zoom, shift = BodyAnimation.from_motion(motion, body).stage_fit(body, travelling.width, travelling.height)
    body = PhotoBody(travelling.canvas_reference(zoom, shift))
    BodyAnimation.from_motion(motion, body)
    twice = time.perf_counter() - start
    print(f"  {'':20s} travelling dance (zoom {zoom:.2f}): renderer set-up {once:5.2f} s, body built once   "
          f"built at both placements {twice:5.2f} s   x{twice / once:4.2f}")


def telea_plate(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The earlier background plate (baseline): the grown hole filled by Telea at 256 px, upscaled."""
    height, width = image.shape[:2]
    grow = max(int(round(0.012 * max(height, width))), 2)
    hole = cv2.dilate((mask > 0.1).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=grow)
    factor = min(1.0, 256.0 / max(height, width))
    size = (max(int(round(width * factor)), 8), max(int(round(height * factor)), 8))
    small = cv2.inpaint(cv2.resize(image, size, interpolation=cv2.INTER_AREA),
                        cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST), 5, cv2.INPAINT_TELEA)  # fmt: skip
    filled = cv2.resize(cv2.GaussianBlur(small, (0, 0), 1.0), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.where(hole[:, :, None] > 0, filled, image)


def analyse_photos(width: int, height: int) -> None:
    """Reference analysis time per real photo: detection + mask, then background plate + layers + mesh; the
    plate against the Telea baseline; frames/s at the photo's own default frame."""
    from backend.appearance.perception import NoPersonError, PoseDetector, analyse_reference
    from backend.appearance.reference import load_reference_image, remove_person

    photos = real_photos()
    if not photos:
        print("reference analysis: ../shared/data/photos not found, skipped")
        return
    start = time.perf_counter()
    PoseDetector.shared()
    print(f"reference analysis (detector start-up {time.perf_counter() - start:.2f} s once per process):")
    for path in photos:
        image = load_reference_image(path).rgb
        start = time.perf_counter()
        try:
            person = analyse_reference(image, name=path.name)
        except NoPersonError:
            print(f"  {path.name:20s} detection {time.perf_counter() - start:6.2f} s   no person (refused)")
            continue
        detection = time.perf_counter() - start
        request = RenderRequest(dance(2), image, width=width, height=height)
        request._reference = person  # the analysis just timed
        start = time.perf_counter()
        puppet = Puppet(request.canvas_reference())
        rig = time.perf_counter() - start
        print(f"  {path.name:20s} detection + mask {detection:6.2f} s   plate + layers + mesh {rig:6.2f} s   "
              f"({len(puppet.layers)} layers, {len(puppet.mesh.triangles)} triangles)")
        start = time.perf_counter()
        remove_person(image, person.mask)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        telea_plate(image, person.mask)
        base = time.perf_counter() - start
        print(f"  {'':20s} background plate: patch inpainting {ours:6.2f} s   Telea baseline {base:6.2f} s")
        frames = 60
        # The default size (the photo's own frame), on the 2D puppet measured above (a photo's default body is the
        # 2.5-D one: --bodies measures it).
        framed = RenderRequest(dance(frames), image, renderer_options=PuppetOptions(body="2d"))
        framed._reference = person
        puppet = Puppet(framed.canvas_reference())
        animation = PuppetAnimation.from_motion(framed.motion, puppet)
        drawing = rate(lambda i: animation.frame(puppet, i), frames)
        with tempfile.TemporaryDirectory() as folder:
            framed.out_path = Path(folder) / "p.mp4"
            start = time.perf_counter()
            PuppetRenderer().render(framed)
            elapsed = time.perf_counter() - start
        print(f"  {'':20s} default frame {framed.width}x{framed.height}: {drawing:6.1f} frames/s drawing, "
              f"{frames / elapsed:6.1f} frames/s end to end (plate, rig and H.264 included)")


if __name__ == "__main__":
    main()
