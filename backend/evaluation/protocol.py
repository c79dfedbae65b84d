"""The two evaluation protocols: ``clean`` and ``bailando-compat``.

Published dance-generation numbers depend on small protocol details (frame time, a slip in the kinetic
feature's acceleration, how features are normalised, how beats are matched). Every metric function takes
an :class:`EvalProtocol` so the choice is explicit, and every printed table names the protocol that ran.
docs/evaluation.md lists each constant with its source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from shared.errors import InvalidInputError


@dataclass(frozen=True)
class EvalProtocol:
    """Every knob that changes a number. Times are seconds, distances metres.

    Attributes:
        name: "clean" or "bailando-compat"; printed with every table.
        fps: joint positions are resampled to this rate before any metric (30 = EDGE/Lodge/MACE).
        max_frames: keep only the first ``max_frames`` frames (Bailando 1200 at 60 fps, Lodge 1024 at 30 fps);
            None keeps everything.
        zero_start_root: subtract the frame-0 root position from every joint before the kinetic and
            geometric features and the motion beats (Bailando ``calc_and_save_feats``).
        kinetic_frame_time: frame time of the kinetic feature; None = 1 / fps (Bailando/Lodge code: 1/60
            whatever the data rate).
        kinetic_acceleration_slip: reproduce the operator-precedence slip of the fairmotion-derived
            acceleration helper used by Bailando/Lodge (``v1 = p[k] - p[k-1] / dt``).
        kinetic_window: half width of the sliding mean of the kinetic feature (frames).
        geometric_frame_time: frame time of the velocity tests of the geometric feature; None = 1 / fps
            (fairmotion/Bailando: always 1/120).
        normalise_eps: GT-normalisation ``(x - mean_gt) / (std_gt + eps)``; when None, dimensions whose GT
            standard deviation is (nearly) zero are only centred (divided by 1) instead of blown up.
        bas_sigma_s: the Beat Align Score Gaussian, seconds; None = compat (σ = 3 frames, σ² = 9).
        bas_smoothing_s: σ of the Gaussian smoothing of the mean joint speed, seconds (clean: 1/12 s, the
            time scale of Bailando's 5 frames at 60 fps); None = compat: 5 frames at whatever rate runs
            (Lodge/MACE keep 5 frames at 30 fps = 1/6 s, which flattens beat-rate speed changes above
            ~100 BPM — see docs/evaluation.md).
        bas_continuous_time: True: motion beats sit at the centre of their speed interval ((i + ½) / fps)
            and music beats keep their exact time; False: both are integer frame indices (Bailando/Lodge).
        fsr_style: "clean" (robust ground, horizontal speed norm) or "lodge" (frame-0 ground, the absolute
            mean of the x and z velocity components, as in Lodge ``foot_skating.py``).
        music_beats: "product" (``backend.features.analyze_music`` when present, else the EDGE-lineage
            librosa tracker) or "edge" (always the EDGE-lineage tracker: sr 15360, hop 512, tightness 100).
    """

    name: str
    fps: float = 30.0
    max_frames: int | None = None
    zero_start_root: bool = False
    kinetic_frame_time: float | None = None
    kinetic_acceleration_slip: bool = False
    kinetic_window: int = 2
    geometric_frame_time: float | None = None
    normalise_eps: float | None = None
    bas_sigma_s: float | None = 0.1
    bas_smoothing_s: float | None = 1.0 / 12.0
    bas_continuous_time: bool = True
    fsr_style: str = "clean"
    music_beats: str = "product"

    @property
    def frame_time(self) -> float:
        return 1.0 / self.fps

    @property
    def kinetic_dt(self) -> float:
        return self.kinetic_frame_time if self.kinetic_frame_time is not None else self.frame_time

    @property
    def geometric_dt(self) -> float:
        return self.geometric_frame_time if self.geometric_frame_time is not None else self.frame_time

    def with_overrides(self, fps: float | None = None, max_frames: int | None = None) -> "EvalProtocol":
        """A copy with a different rate or length (e.g. ``fps=60, max_frames=1200`` for AIST++/Bailando)."""
        values = asdict(self)
        if fps is not None:
            if not fps > 0:
                raise InvalidInputError(f"fps must be > 0, got {fps}", hint="pass e.g. --fps 30")
            values["fps"] = float(fps)
        if max_frames is not None:
            if max_frames < 8:
                raise InvalidInputError(f"max_frames must be >= 8, got {max_frames}", hint="pass e.g. --max-frames 1024")
            values["max_frames"] = int(max_frames)
        return EvalProtocol(**values)

    def describe(self) -> str:
        """One line naming the protocol and its settings, printed above every table."""
        if self.name == COMPAT.name:
            detail = (
                "Bailando/Lodge/MACE-compatible: kinetic frame time 1/60 s with the acceleration slip, "
                "geometric frame time 1/120 s, zero-start root, GT normalisation (std + 1e-10), "
                "BAS over music beats in frames (σ_smooth 5, σ² 9), Lodge FSR"
            )
        else:
            detail = (
                f"true frame time 1/{self.fps:g} s, exact acceleration, GT normalisation "
                f"(constant dims centred only), BAS over music beats in seconds (σ {self.bas_sigma_s:g} s, "
                f"speed smoothing σ {self.bas_smoothing_s:.3g} s), "
                f"robust-ground FSR"
            )
        length = f", first {self.max_frames} frames" if self.max_frames else ""
        return f"protocol {self.name} @ {self.fps:g} fps{length}: {detail}"


CLEAN = EvalProtocol(name="clean")

COMPAT = EvalProtocol(
    name="bailando-compat",
    zero_start_root=True,
    kinetic_frame_time=1.0 / 60.0,
    kinetic_acceleration_slip=True,
    geometric_frame_time=1.0 / 120.0,
    normalise_eps=1e-10,
    bas_sigma_s=None,
    bas_smoothing_s=None,
    bas_continuous_time=False,
    fsr_style="lodge",
    music_beats="edge",
)

PROTOCOLS = {"clean": CLEAN, "compat": COMPAT, COMPAT.name: COMPAT}


def get_protocol(name: str | EvalProtocol) -> EvalProtocol:
    """``"clean"``, ``"compat"``/``"bailando-compat"`` or an :class:`EvalProtocol` (returned as is)."""
    if isinstance(name, EvalProtocol):
        return name
    try:
        return PROTOCOLS[str(name)]
    except KeyError:
        raise InvalidInputError(
            f"unknown evaluation mode {name!r}", hint="use --mode clean or --mode compat"
        ) from None
