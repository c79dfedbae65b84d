"""Registration, preferences and the Dance panel's drawing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.blender


class RecordingLayout:
    """Stands in for ``UILayout`` (which only Blender's window code can create) and checks every call against
    real RNA: properties must exist on the data, operators must be registered, icons must be valid."""

    def __init__(self, bpy, log):
        self._bpy, self._log = bpy, log

    def _child(self, *args, **kwargs):
        return RecordingLayout(self._bpy, self._log)

    row = column = box = split = _child

    def _icon(self, icon):
        icons = self._bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys()
        assert icon in icons, f"unknown icon {icon!r}"

    def prop(self, data, name, text=None, **kwargs):
        assert name in data.bl_rna.properties, f"{data} has no property {name!r}"
        self._log.append(("prop", name))
        self._log.append(("shown", data.bl_rna.properties[name].name if text is None else text))

    def operator(self, idname, text=None, icon="NONE", **kwargs):
        module, name = idname.split(".")
        rna = getattr(getattr(self._bpy.ops, module), name).get_rna_type()  # raises when not registered
        self._icon(icon)
        self._log.append(("operator", idname))
        self._log.append(("shown", rna.name if text is None else text))
        return _OperatorProperties(rna)

    def prop_search(self, data, name, search_data, search_name, **kwargs):
        assert name in data.bl_rna.properties and search_name in search_data.bl_rna.properties
        self._log.append(("prop_search", getattr(data, name)))

    def label(self, text="", icon="NONE", **kwargs):
        self._icon(icon)
        self._log.append(("label", text))

    def progress(self, factor=0.0, type="BAR", text=""):
        assert 0.0 <= factor <= 1.0
        self._log.append(("progress", text))


class _OperatorProperties:
    """What ``layout.operator`` returns: only the operator's own properties may be set."""

    def __init__(self, rna):
        object.__setattr__(self, "_rna", rna)

    def __setattr__(self, name, value):
        assert name in self._rna.properties, f"operator has no property {name!r}"


def draw(bpy, panel_cls, context):
    log = []
    stand_in = type("PanelUnderTest", (), {"layout": RecordingLayout(bpy, log)})()  # draw only needs .layout
    panel_cls.draw(stand_in, context)
    return log


def test_register_unregister_register(bpy, addon):
    import addon_utils

    from blender_addon import jobs

    assert hasattr(bpy.types, "MACE_PT_dance") and hasattr(bpy.context.scene, "mace_dance")
    addon_utils.disable("blender_addon", default_set=True, handle_error=None)
    try:
        assert not hasattr(bpy.types, "MACE_PT_dance")
        assert not hasattr(bpy.types.Scene, "mace_dance")
        assert not bpy.app.timers.is_registered(jobs.SESSION.timer)
    finally:
        addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    assert hasattr(bpy.types, "MACE_PT_dance")


def test_preferences_default_to_the_protocol_address(bpy, addon):
    from blender_addon import preferences
    from shared import protocol

    assert preferences.DEFAULT_ADDRESS == protocol.DEFAULT_ADDRESS
    prefs = preferences.get(bpy.context)
    assert prefs is not None and prefs.address == protocol.DEFAULT_ADDRESS
    log = []
    stand_in = type("PrefsUnderTest", (), {"layout": RecordingLayout(bpy, log),
                                           "__getattr__": lambda self, name: getattr(prefs, name)})()
    preferences.MACE_AddonPreferences.draw(stand_in, bpy.context)
    assert ("prop", "address") in log and ("prop", "backend_command") in log


def test_panels_draw_idle_busy_and_error(bpy, scene):
    from blender_addon import ui

    status = bpy.context.window_manager.mace_dance_status
    status.origin = "dance"  # a job started by the Dance panel's own buttons
    log = draw(bpy, ui.MACE_PT_dance, bpy.context)
    assert ("operator", "mace.generate") in log and ("prop", "music_path") in log
    assert not any(kind == "progress" for kind, _ in log)

    status.busy, status.progress, status.message = True, 0.4, "generate: planning moves"
    log = draw(bpy, ui.MACE_PT_dance, bpy.context)
    assert ("progress", "generate: planning moves") in log and ("operator", "mace.cancel") in log

    status.busy, status.error, status.hint = False, "no backend answered", "start one with mace-dance serve"
    log = draw(bpy, ui.MACE_PT_dance, bpy.context)
    assert ("label", "no backend answered") in log and ("label", "start one with mace-dance serve") in log

    status.error = "no backend answered at tcp://127.0.0.1:7557 within 3 s (job generate_motion 7ac947a6 was running)"
    log = draw(bpy, ui.MACE_PT_dance, bpy.context)
    lines = [text for kind, text in log if kind == "label" and text and text not in (status.hint, status.message)]
    assert len(lines) >= 2 and " ".join(lines) == status.error  # wrapped at the sidebar's width, never cut

    for panel in (ui.MACE_PT_dance_render, ui.MACE_PT_dance_backend, ui.MACE_PT_dance_retarget):
        assert draw(bpy, panel, bpy.context)


def test_takes_and_retarget_panels_list_takes_and_the_bone_map(bpy, scene, random_motion):
    from blender_addon import ui
    from blender_addon.bpy_glue import importer

    smpl = importer.import_motion(bpy.context, random_motion(10, seed=1), name="song seed 1").armature
    importer.import_motion(bpy.context, random_motion(10, seed=2), name="song seed 2", armature=smpl)
    bpy.context.view_layer.objects.active = smpl
    assert ui.MACE_PT_dance_takes.poll(bpy.context)
    log = draw(bpy, ui.MACE_PT_dance_takes, bpy.context)
    assert [entry for entry in log if entry == ("operator", "mace.use_take")] == [("operator", "mace.use_take")] * 2
    labels = " ".join(text for kind, text in log if kind == "label")
    assert "Your keys go on 'SMPL edits', above the take" in labels

    target = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    scene.collection.objects.link(target)
    scene.mace_dance.retarget_target = target
    pair = target.mace_bone_map.add()
    pair.joint, pair.bone = "pelvis", "Hips"
    log = draw(bpy, ui.MACE_PT_dance_retarget, bpy.context)
    assert ("operator", "mace.retarget") in log and ("prop_search", "Hips") in log and ("label", "pelvis") in log


def test_a_pending_interface_job_does_not_hang_exit(bpy, tmp_path):
    """A job started the GUI way leaves a timer registered; the process must still exit (atexit cleanup)."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    code = """
import bpy, addon_utils
addon_utils.enable("blender_addon", default_set=True, handle_error=None)
from blender_addon import jobs, preferences
settings = preferences.connection_settings(bpy.context)
settings.address, settings.start_local, settings.timeout_s = "tcp://127.0.0.1:9", False, 30.0
jobs.SESSION.run(settings, "generate", lambda client: None, lambda result: None, lambda update: None, blocking=False)
assert bpy.app.timers.is_registered(jobs.SESSION.timer)
print("leaving with a live timer", flush=True)
"""
    repo = Path(__file__).resolve().parents[2]
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "leaving with a live timer" in result.stdout, result.stderr
    # The handshake thread is still waiting out its 30 s timeout; it must not hold the exit.
    assert time.monotonic() - start < 20


def test_backend_box_says_who_dances_and_offers_the_motion_expert(bpy, scene, monkeypatch):
    from blender_addon import jobs, ui
    from blender_addon.motion_expert_download import DownloadState
    from blender_addon.operators import motion_expert
    import dataclasses

    from shared.protocol import PROTOCOL_VERSION, Hello

    hello = Hello(protocol_version=PROTOCOL_VERSION, backend_version="0", motion_generator="choreographer",
                  motion_generator_reason="the Motion Expert is not installed", weights={"motion_expert": False})
    monkeypatch.setattr(jobs.SESSION, "last_hello", hello)
    monkeypatch.setattr(motion_expert, "DOWNLOAD", None)
    log = draw(bpy, ui.MACE_PT_dance_backend, bpy.context)
    text = " ".join(t for kind, t in log if kind == "label")
    assert "Dances with the choreographer: the Motion Expert is not installed" in text
    assert ("operator", "mace.get_motion_expert") in log

    running = type("Running", (), {"poll": lambda self: DownloadState(size=312_000_000, done=78_000_000)})()
    monkeypatch.setattr(motion_expert, "DOWNLOAD", running)
    log = draw(bpy, ui.MACE_PT_dance_backend, bpy.context)
    assert ("label", "Motion Expert 25% of 312 MB") in log and ("operator", "mace.cancel_motion_expert_download") in log
    assert ("operator", "mace.get_motion_expert") not in log

    monkeypatch.setattr(jobs.SESSION, "last_hello", dataclasses.replace(
        hello, motion_generator="motion_expert", weights={"motion_expert": True}))
    monkeypatch.setattr(motion_expert, "DOWNLOAD", None)
    log = draw(bpy, ui.MACE_PT_dance_backend, bpy.context)
    assert ("operator", "mace.get_motion_expert") not in log
    assert any(kind == "label" and t.startswith("Dances with the Motion Expert") for kind, t in log)


#: What fits the default sidebar width (about 300 px at 100% scale in 4.2-5.0; 7 px a character), checked here
#: because background Blender cannot show truncation: a button or a label alone in its row, and a field's label
#: (the split layout gives it 40%).
BUTTON_CHARS, FIELD_LABEL_CHARS = 20, 16


def test_every_panel_label_fits_the_default_sidebar_width(bpy, scene, random_motion):
    from blender_addon import ui
    from blender_addon.bpy_glue import importer

    smpl = importer.import_motion(bpy.context, random_motion(10, seed=1), name="T1 s1 song").armature
    target = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    scene.collection.objects.link(target)
    scene.mace_dance.retarget_target = target
    for joint in ("left_shoulder", "right_shoulder"):
        pair = target.mace_bone_map.add()
        pair.joint, pair.bone = joint, "upper_arm"
    bpy.context.view_layer.objects.active = smpl
    status = bpy.context.window_manager.mace_dance_status
    status.busy, status.error = False, ""
    shown, labels = [], []
    for panel in ui.CLASSES:
        assert len(panel.bl_label) <= BUTTON_CHARS, panel.bl_label
        log = draw(bpy, panel, bpy.context)
        shown += [text for kind, text in log if kind == "shown"]
        labels += [text for kind, text in log if kind == "label"]
    assert shown and labels
    too_long = [text for text in shown if len(text) > BUTTON_CHARS]
    assert not too_long, too_long
    for prop in scene.mace_dance.bl_rna.properties:
        assert len(prop.name) <= FIELD_LABEL_CHARS, prop.name
    assert all(len(text) <= 36 for text in labels), [text for text in labels if len(text) > 36]  # wrapped
    assert "L shoulder" in labels and "R shoulder" in labels  # the two upper arms are told apart
    # Every operator's label fits a button; tooltips (docstrings) carry the long form.
    from blender_addon import operators

    for cls in operators.CLASSES:
        assert len(cls.bl_label) <= BUTTON_CHARS and (cls.__doc__ or "").strip(), cls.bl_label


def test_every_greyed_operator_says_why_and_names_the_fix(bpy, scene, monkeypatch):
    """Each poll that can fail sets a poll message (Blender shows it on the greyed button)."""
    import inspect

    from blender_addon import jobs, operators
    from blender_addon.motion_expert_download import DownloadState
    from blender_addon.operators import common, motion_expert

    running = type("Running", (), {"poll": lambda self: DownloadState(size=312_000_000, done=78_000_000)})()
    # Get and Cancel of the download are greyed in opposite states: Get while a download runs, Cancel otherwise.
    greyed_when = {motion_expert.MACE_OT_get_motion_expert: running,
                   motion_expert.MACE_OT_cancel_motion_expert_download: None}

    polled = [cls for cls in operators.CLASSES if "poll" in cls.__dict__]
    assert len(polled) >= 9
    for cls in polled:
        assert "refuse(" in inspect.getsource(cls.poll), f"{cls.__name__}.poll sets no poll message"
    messages = []
    original = common.refuse

    def record(operator_class, message):
        messages.append((operator_class.__name__, message))
        return original(operator_class, message)

    common.refuse = record
    saved = jobs.SESSION._submit
    jobs.SESSION._submit = object()  # a job is being submitted: busy
    try:
        bpy.context.view_layer.objects.active = None
        scene.mace_dance.retarget_target = None
        for cls in polled:
            monkeypatch.setattr(motion_expert, "DOWNLOAD", greyed_when.get(cls))
            assert not cls.poll(bpy.context), cls.__name__  # nothing to work on here: every button is greyed
    finally:
        common.refuse = original
        jobs.SESSION._submit = saved
    told = {name for name, _ in messages}
    assert told == {cls.__name__ for cls in polled}
    fixes = ("Generate", "pick", "wait", "Cancel", "Ctrl+C", "Get Motion Expert")
    for name, message in messages:
        assert any(fix in message for fix in fixes), (name, message)


def test_take_names_lead_with_what_differs(bpy, scene, random_motion):
    from blender_addon.bpy_glue import importer, takes

    song = "/music/hyperrogue-music__hr3-crossroads-of-the-lost-and-found.ogg"
    names = []
    smpl = None
    for seed in (1, 1, 1234):
        name = takes.take_name(smpl, song, seed, "House")
        smpl = importer.import_motion(bpy.context, random_motion(5, seed=seed), name=name, armature=smpl).armature
        names.append(takes.active_take(smpl).action.name)
    assert names[0] == "T1 s1 house hr3-crossroad…"
    assert len({name[:24] for name in names}) == 3  # told apart within the first 24 characters
    assert not any(".00" in name for name in names)  # the same seed twice is a new take number, not "seed 1.001"


def test_the_dancer_is_picked_not_the_active_object(bpy, scene, random_motion):
    from blender_addon.bpy_glue import armature, importer

    first = importer.import_motion(bpy.context, random_motion(5, seed=1), name="a").armature
    second = importer.import_motion(bpy.context, random_motion(5, seed=2), name="b").armature
    character = bpy.data.objects.new("Character", bpy.data.armatures.new("Character"))
    scene.collection.objects.link(character)
    bpy.context.view_layer.objects.active = first
    assert bpy.ops.mace.use_smpl_dancer() == {"FINISHED"} and scene.mace_dance.dancer == first
    bpy.context.view_layer.objects.active = character  # adding your character makes it active ...
    assert armature.find_smpl_armature(bpy.context) == first  # ... and the panel still works on the dancer
    assert bpy.ops.mace.export_motion.poll()
    scene.mace_dance.dancer = None
    assert armature.find_smpl_armature(bpy.context) is None  # two dancers, none picked or active: ask
    bpy.data.objects.remove(second)
    assert armature.find_smpl_armature(bpy.context) == first  # the only one


def test_a_job_shows_in_the_header_of_the_panel_that_started_it(bpy, scene):
    from blender_addon import properties, ui

    properties.update_status({"origin": "render", "busy": True, "progress": 0.25, "message": "render: frame 3"})
    try:
        header = []
        stand_in = type("Header", (), {"layout": RecordingLayout(bpy, header), "job_origin": "render"})()
        ui.MACE_PT_dance_render.draw_header_preset(stand_in, bpy.context)
        assert ("label", "25%") in header
        quiet = []
        ui.MACE_PT_dance_retarget.draw_header_preset(
            type("H", (), {"layout": RecordingLayout(bpy, quiet), "job_origin": "retarget"})(), bpy.context)
        assert quiet == []
        body = draw(bpy, ui.MACE_PT_dance_render, bpy.context)
        assert ("progress", "render: frame 3") in body and ("operator", "mace.cancel") in body
        assert properties.status_line(properties.status(bpy.context)) == "Dance: render: frame 3 (25%)"
        properties.update_status({"busy": False, "error": "no backend answered at tcp://127.0.0.1:7557"})
        header = []
        ui.MACE_PT_dance_render.draw_header_preset(
            type("H", (), {"layout": RecordingLayout(bpy, header), "job_origin": "render"})(), bpy.context)
        assert ("label", "failed") in header
    finally:
        properties.update_status({"origin": "", "busy": False, "error": "", "message": "", "progress": 0.0})
