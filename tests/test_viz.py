"""Deterministic checks of posecore.viz: trace structure, colours by side, the display mapping,
equal aspect, validation messages, the notebook display bundle and the matplotlib helpers."""
from __future__ import annotations

import json

import matplotlib
import numpy as np
import plotly.graph_objects as go
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from posecore import skeleton as sk  # noqa: E402
from posecore import viz  # noqa: E402


def _line_traces(fig, pose=None):
    return [t for t in fig.data if t.mode == "lines" and (pose is None or t.meta["pose"] == pose)]


def _bone_count(trace):
    return sum(1 for v in trace.x if v is None)


def test_single_pose_traces_and_colours(standing_pose):
    fig = viz.skeleton_figure(standing_pose)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 4  # left, right, center lines + joints
    lines = {t.meta["side"]: t for t in _line_traces(fig)}
    assert set(lines) == {"left", "right", "center"}
    assert lines["left"].line.color == viz.SIDE_COLORS["left"]
    assert lines["right"].line.color == viz.SIDE_COLORS["right"]
    assert lines["center"].line.color == viz.SIDE_COLORS["center"]
    n_by_side = {s: sum(1 for b in sk.BONES if sk.bone_side(b) == s) for s in ("left", "right", "center")}
    assert {s: _bone_count(t) for s, t in lines.items()} == n_by_side
    assert sum(n_by_side.values()) == len(sk.BONES) == 16
    joints = [t for t in fig.data if t.mode == "markers"]
    assert len(joints) == 1 and len(joints[0].x) == 17
    colors = joints[0].marker.color
    assert all(colors[j] == viz.SIDE_COLORS["left"] for j in sk.LEFT_JOINTS)
    assert all(colors[j] == viz.SIDE_COLORS["right"] for j in sk.RIGHT_JOINTS)


def test_left_blue_right_red():
    assert viz.SIDE_COLORS["left"].lower() != viz.SIDE_COLORS["right"].lower()
    r, g, b = (int(viz.SIDE_COLORS["left"][i:i + 2], 16) for i in (1, 3, 5))
    assert b > r and b > g  # blue
    r, g, b = (int(viz.SIDE_COLORS["right"][i:i + 2], 16) for i in (1, 3, 5))
    assert r > g and r > b  # red


def test_display_mapping_makes_people_stand_up(standing_pose):
    d = viz.to_display(standing_pose)
    np.testing.assert_allclose(d[:, 0], standing_pose[:, 0])
    np.testing.assert_allclose(d[:, 1], standing_pose[:, 2])
    np.testing.assert_allclose(d[:, 2], -standing_pose[:, 1])
    head, ankle = d[sk.JOINT_INDEX["head"]], d[sk.JOINT_INDEX["left_ankle"]]
    assert head[2] > ankle[2]  # head above the feet in the display
    fig = viz.skeleton_figure(standing_pose)
    joints = [t for t in fig.data if t.mode == "markers"][0]
    np.testing.assert_allclose(np.array(joints.z, dtype=float), -standing_pose[:, 1])


def test_equal_aspect_cube(standing_pose):
    fig = viz.skeleton_figure(standing_pose, camera="side")
    scene = fig.layout.scene
    assert scene.aspectmode == "cube"
    spans = [scene.xaxis.range[1] - scene.xaxis.range[0], scene.yaxis.range[1] - scene.yaxis.range[0],
             scene.zaxis.range[1] - scene.zaxis.range[0]]
    assert max(spans) - min(spans) < 1e-6
    d = viz.to_display(standing_pose)
    for k, ax in enumerate((scene.xaxis, scene.yaxis, scene.zaxis)):
        assert ax.range[0] <= d[:, k].min() and d[:, k].max() <= ax.range[1]
    assert scene.camera.eye.x == viz.CAMERAS["side"]["eye"]["x"]


@pytest.mark.parametrize("camera", sorted(viz.CAMERAS))
def test_camera_presets(standing_pose, camera):
    fig = viz.skeleton_figure(standing_pose, camera=camera)
    assert fig.layout.scene.camera.eye.to_plotly_json() == viz.CAMERAS[camera]["eye"]


def test_overlay(standing_pose):
    pred = standing_pose + 20.0
    fig = viz.skeleton_figure([pred, standing_pose], labels=["prediction", "ground truth"], mode="overlay")
    assert len(fig.data) == 8
    assert "scene2" not in fig.layout
    legend = [t.name for t in fig.data if t.showlegend]
    assert legend == ["prediction", "ground truth"]
    dashes = {t.meta["pose"]: t.line.dash for t in _line_traces(fig)}
    assert dashes["prediction"] != dashes["ground truth"]
    op = {t.meta["pose"]: t.opacity for t in fig.data}
    assert op["prediction"] == 1.0 and op["ground truth"] < 1.0
    # side colours hold for both poses
    for t in _line_traces(fig):
        assert t.line.color == viz.SIDE_COLORS[t.meta["side"]]
    assert fig.layout.showlegend is True


def test_side_by_side(standing_pose):
    poses = [standing_pose, standing_pose * 1.5, standing_pose - 100]
    fig = viz.skeleton_figure(poses, labels=["a", "b", "c"], mode="side_by_side", height=300)
    assert len(fig.data) == 12
    scenes = [k for k in ("scene", "scene2", "scene3") if k in fig.layout]
    assert len(scenes) == 3
    assert [a.text for a in fig.layout.annotations] == ["a", "b", "c"]
    assert fig.layout.height == 300
    spans = {round(fig.layout[s][ax].range[1] - fig.layout[s][ax].range[0], 6)
             for s in scenes for ax in ("xaxis", "yaxis", "zaxis")}
    assert len(spans) == 1  # one scale for every subplot and axis
    assert {t.scene for t in fig.data} == {"scene", "scene2", "scene3"}


def test_accepts_stacked_array_and_tensor(standing_pose):
    torch = pytest.importorskip("torch")
    fig = viz.skeleton_figure(np.stack([standing_pose, standing_pose]), mode="overlay")
    assert len(fig.data) == 8
    fig = viz.skeleton_figure(torch.tensor(standing_pose))
    assert len(fig.data) == 4


@pytest.mark.parametrize("bad, message", [
    (np.zeros((16, 3)), r"expected shape \(17, 3\), got \(16, 3\)"),
    (np.zeros((17, 2)), r"expected shape \(17, 3\), got \(17, 2\)"),
    (np.zeros((2, 3, 17, 3)), r"got an array of shape \(2, 3, 17, 3\)"),
    ([], r"empty list"),
])
def test_shape_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        viz.skeleton_figure(bad)


def test_nan_error_names_the_joint(standing_pose):
    bad = standing_pose.copy()
    bad[sk.JOINT_INDEX["left_wrist"], 1] = np.nan
    with pytest.raises(ValueError, match=r"poses\[1\]: contains 1 NaN/inf values \(joints: left_wrist\)"):
        viz.skeleton_figure([standing_pose, bad])
    with pytest.raises(ValueError, match="NaN"):
        viz.skeleton_figure(np.full((17, 3), np.inf))


def test_argument_errors(standing_pose):
    with pytest.raises(ValueError, match="unknown mode"):
        viz.skeleton_figure(standing_pose, mode="grid")
    with pytest.raises(ValueError, match="unknown camera"):
        viz.skeleton_figure(standing_pose, camera="back")
    with pytest.raises(ValueError, match="2 labels for 1 poses"):
        viz.skeleton_figure([standing_pose], labels=["a", "b"])


def test_animation(standing_pose, rng):
    seq = standing_pose[None] + rng.normal(scale=10, size=(40, 17, 3))
    fig = viz.animation_figure(seq, fps=20, title="walk")
    assert len(fig.frames) == 40
    assert len(fig.data) == 4 and all(len(f.data) == 4 for f in fig.frames)
    assert [f.name for f in fig.frames[:3]] == ["0", "1", "2"]
    assert len(fig.layout.sliders) == 1 and len(fig.layout.sliders[0].steps) == 40
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.method for b in buttons] == ["animate", "animate"]
    assert buttons[0].args[1]["frame"]["duration"] == pytest.approx(50.0)
    long = viz.animation_figure(np.repeat(seq, 20, axis=0), max_frames=100)
    assert len(long.frames) <= 100
    assert long.frames[-1].name == str(40 * 20 - 1)
    with pytest.raises(ValueError, match=r"expected shape \(T, 17, 3\)"):
        viz.animation_figure(standing_pose)
    bad = seq.copy()
    bad[7, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN/inf values in 1 frames \(first: 7\)"):
        viz.animation_figure(bad)


def test_show_bundle_has_no_plotlyjs(standing_pose):
    fig = viz.skeleton_figure(standing_pose)
    bundle = viz._PlotlyDisplay(fig)._repr_mimebundle_()
    html = bundle["text/html"]
    assert "plotly-graph-div" in html and "Plotly.newPlot" in html
    assert len(html) < 200_000  # plotly.js itself (megabytes) is not inlined
    assert "cdn.plot.ly" not in html and "<script src=" not in html
    data = bundle[viz.PLOTLY_MIMETYPE]
    assert json.dumps(data) and len(data["data"]) == 4
    with pytest.raises(TypeError):
        viz.show("not a figure")


def test_matplotlib_helpers(standing_pose, rng):
    fig = plt.figure()
    ax3 = fig.add_subplot(1, 3, 1, projection="3d")
    viz.plot_skeleton_3d(ax3, standing_pose)
    assert len(ax3.lines) == 16
    colors = {matplotlib.colors.to_hex(line.get_color()) for line in ax3.lines}
    assert colors == {c.lower() for c in viz.SIDE_COLORS.values()}
    spans = [np.diff(ax3.get_xlim())[0], np.diff(ax3.get_ylim())[0], np.diff(ax3.get_zlim())[0]]
    assert max(spans) - min(spans) < 1e-6
    ax2 = fig.add_subplot(1, 3, 2)
    uv = rng.uniform(0, 100, size=(17, 2))
    viz.plot_skeleton_2d(ax2, uv, color="k")
    assert len(ax2.lines) == 16 and ax2.yaxis_inverted()
    ax_img = fig.add_subplot(1, 3, 3)
    viz.image_with_skeleton(ax_img, np.zeros((64, 48, 3), dtype=np.uint8), uv, title="crop")
    assert len(ax_img.images) == 1 and ax_img.get_xlim() == (0, 48)
    with pytest.raises(ValueError, match=r"image: expected shape \(H, W, 3\)"):
        viz.image_with_skeleton(ax_img, np.zeros((64, 48)), uv)
    with pytest.raises(ValueError, match="3D Axes"):
        viz.plot_skeleton_3d(ax2, standing_pose)
    with pytest.raises(ValueError, match=r"pose_2d: expected shape \(17, 2\)"):
        viz.plot_skeleton_2d(ax2, standing_pose)
    plt.close(fig)


def test_explorer(standing_pose):
    pytest.importorskip("ipywidgets")
    box = viz.explorer([[standing_pose, standing_pose + 5], [standing_pose, standing_pose - 5]],
                       labels=["prediction", "ground truth"])
    slider = box.children[0].children[0]
    assert slider.max == 1
    slider.value = 1  # triggers the update without a front end
