"""Skeleton figures: interactive Plotly 3D views for the book and static matplotlib plots.

Conventions
-----------
Poses are ``(17, 3)`` arrays in millimetres in *camera coordinates* (x right, y **down**, z forward
= depth), in :data:`posecore.skeleton.H36M_JOINTS` order. Plotly figures display them with the
mapping ``X = x, Y = z (depth), Z = -y`` so that people stand upright with the camera looking along
+Y. Left limbs are blue, right limbs red, the spine and head grey.

Publishing
----------
:func:`show` displays a figure as an HTML ``<div>`` **without** plotly.js (plus the Plotly JSON
mimetype for JupyterLab). The book ships one local copy of plotly.js (``_static/plotly.min.js``,
copied from the installed plotly package by ``python -m posecore.book build`` and loaded in every
page's ``<head>`` through ``html_js_files`` in ``_config.yml``), so the published HTML needs no
network and no kernel.
"""
from __future__ import annotations

import json
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import skeleton as sk

SIDE_COLORS = {"left": "#1f5fbf", "right": "#d62728", "center": "#7f7f7f"}
# plotly scene cameras for the display frame X = x (right), Y = depth, Z = up
CAMERAS = {
    "front": dict(eye=dict(x=0.0, y=-2.2, z=0.25), up=dict(x=0, y=0, z=1)),   # from the camera
    "side": dict(eye=dict(x=2.2, y=0.0, z=0.25), up=dict(x=0, y=0, z=1)),     # from the subject's left
    "top": dict(eye=dict(x=0.0, y=-0.01, z=2.5), up=dict(x=0, y=1, z=0)),     # bird's eye
    "iso": dict(eye=dict(x=1.4, y=-1.6, z=0.8), up=dict(x=0, y=0, z=1)),
}
MODES = ("side_by_side", "overlay")
OVERLAY_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"


# --- validation ------------------------------------------------------------------------------------
def _as_pose(pose, dims: int, name: str) -> np.ndarray:
    """A finite float (17, dims) numpy array, else ValueError naming ``name`` and the problem."""
    if hasattr(pose, "detach"):  # torch tensor
        pose = pose.detach().cpu().numpy()
    arr = np.asarray(pose, dtype=float)
    if arr.shape != (sk.NUM_JOINTS, dims):
        raise ValueError(f"{name}: expected shape ({sk.NUM_JOINTS}, {dims}), got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        joints = sorted({sk.H36M_JOINTS[j] for j in np.nonzero(bad)[0]})
        raise ValueError(f"{name}: contains {int(bad.sum())} NaN/inf values (joints: {', '.join(joints)})")
    return arr


def _as_pose_list(poses, dims: int = 3) -> list[np.ndarray]:
    if hasattr(poses, "detach"):
        poses = poses.detach().cpu().numpy()
    if isinstance(poses, np.ndarray):
        if poses.ndim == 2:
            return [_as_pose(poses, dims, "pose")]
        if poses.ndim == 3:
            return [_as_pose(p, dims, f"poses[{i}]") for i, p in enumerate(poses)]
        raise ValueError(f"poses: expected a ({sk.NUM_JOINTS}, {dims}) pose or a list of them, "
                         f"got an array of shape {poses.shape}")
    poses = list(poses)
    if not poses:
        raise ValueError("poses: got an empty list")
    return [_as_pose(p, dims, f"poses[{i}]") for i, p in enumerate(poses)]


def to_display(pose: np.ndarray) -> np.ndarray:
    """Camera coordinates (x right, y down, z forward) -> display (X = x, Y = z, Z = -y)."""
    pose = np.asarray(pose, dtype=float)
    return np.stack([pose[..., 0], pose[..., 2], -pose[..., 1]], axis=-1)


def _cube_ranges(display_poses: Sequence[np.ndarray], margin: float = 0.08) -> list[list[float]]:
    """Equal-length ranges on the three axes that contain every pose (a cube: equal aspect)."""
    pts = np.concatenate([p.reshape(-1, 3) for p in display_poses], axis=0)
    lo, hi = pts.min(0), pts.max(0)
    centre = 0.5 * (lo + hi)
    half = 0.5 * float((hi - lo).max()) * (1 + 2 * margin)
    half = max(half, 1.0)
    return [[float(c - half), float(c + half)] for c in centre]


# --- plotly ---------------------------------------------------------------------------------------
def skeleton_traces(pose: np.ndarray, name: str = "pose", dash: str = "solid", opacity: float = 1.0,
                    width: float = 6.0, legendgroup: str | None = None, showlegend: bool = True) -> list:
    """Scatter3d traces for one (17, 3) camera-frame pose: one line trace per side
    (left / right / center, bones joined with ``None`` gaps) and one marker trace for the joints.
    The legend shows one entry per pose (the joints trace), clicking it toggles the whole pose."""
    pose = _as_pose(pose, 3, name)
    d = to_display(pose)
    group = legendgroup or name
    traces = []
    for side in ("left", "right", "center"):
        xs, ys, zs = [], [], []
        for bone in sk.BONES:
            if sk.bone_side(bone) != side:
                continue
            for j in bone:
                xs.append(d[j, 0]); ys.append(d[j, 1]); zs.append(d[j, 2])
            xs.append(None); ys.append(None); zs.append(None)
        traces.append(go.Scatter3d(
            x=xs, y=ys, z=zs, mode="lines", name=f"{name} ({side})", legendgroup=group,
            showlegend=False, opacity=opacity, hoverinfo="skip",
            line=dict(color=SIDE_COLORS[side], width=width, dash=dash),
            meta=dict(pose=name, side=side)))
    joint_colors = [SIDE_COLORS["left"] if j in sk.LEFT_JOINTS else SIDE_COLORS["right"]
                    if j in sk.RIGHT_JOINTS else SIDE_COLORS["center"] for j in range(sk.NUM_JOINTS)]
    traces.append(go.Scatter3d(
        x=d[:, 0], y=d[:, 1], z=d[:, 2], mode="markers", name=name, legendgroup=group,
        showlegend=showlegend, opacity=opacity, text=list(sk.H36M_JOINTS),
        hovertemplate="%{text}<br>x=%{customdata[0]:.0f} y=%{customdata[1]:.0f} "
                      "z=%{customdata[2]:.0f} mm<extra>" + name + "</extra>",
        customdata=pose, marker=dict(size=3, color=joint_colors),
        meta=dict(pose=name, side="joints")))
    return traces


def _scene(camera: str, ranges) -> dict:
    if camera not in CAMERAS:
        raise ValueError(f"unknown camera {camera!r}; choose one of {tuple(CAMERAS)}")
    axis = dict(showbackground=True, backgroundcolor="#f4f4f4", gridcolor="#dddddd",
                zerolinecolor="#cccccc", showspikes=False)
    titles = ("x (mm)", "depth z (mm)", "up -y (mm)")
    # seen from the front, the depth axis points at the viewer and its tick labels pile up: hide them
    depth = dict(axis, showticklabels=False) if camera == "front" else axis
    return dict(
        xaxis=dict(axis, title=dict(text=titles[0]), range=ranges[0]),
        yaxis=dict(depth, title=dict(text=titles[1]), range=ranges[1]),
        zaxis=dict(axis, title=dict(text=titles[2]), range=ranges[2]),
        aspectmode="cube", camera=CAMERAS[camera])


def skeleton_figure(poses, labels: Sequence[str] | None = None, mode: str = "side_by_side",
                    camera: str = "front", title: str | None = None, height: int = 450) -> go.Figure:
    """An interactive 3D figure of one or several (17, 3) camera-frame poses (mm).

    ``mode="side_by_side"``: one 3D subplot per pose, titled by ``labels``; ``mode="overlay"``: all
    poses in one scene, told apart by line dash and opacity, legend entries named by ``labels``
    (e.g. ``["prediction", "ground truth"]``). Every scene has equal axis ranges (a cube) so bone
    lengths are not distorted; ``camera`` is one of ``front``, ``side``, ``top``, ``iso``.
    """
    plist = _as_pose_list(poses)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    if labels is None:
        labels = ["pose"] if len(plist) == 1 else [f"pose {i}" for i in range(len(plist))]
    labels = [str(s) for s in labels]
    if len(labels) != len(plist):
        raise ValueError(f"labels: got {len(labels)} labels for {len(plist)} poses")
    if camera not in CAMERAS:
        raise ValueError(f"unknown camera {camera!r}; choose one of {tuple(CAMERAS)}")

    if mode == "overlay" or len(plist) == 1:
        fig = go.Figure()
        for i, (p, lab) in enumerate(zip(plist, labels)):
            for t in skeleton_traces(p, name=lab, dash=OVERLAY_DASHES[i % len(OVERLAY_DASHES)],
                                     opacity=1.0 if i == 0 else max(0.35, 0.75 - 0.15 * (i - 1)),
                                     showlegend=len(plist) > 1):
                fig.add_trace(t)
        fig.update_layout(scene=_scene(camera, _cube_ranges([to_display(p) for p in plist])))
    else:
        n = len(plist)
        fig = make_subplots(rows=1, cols=n, specs=[[{"type": "scene"}] * n], subplot_titles=labels,
                            horizontal_spacing=0.02)
        # one shared cube size so that the poses are drawn at the same scale
        ranges = [_cube_ranges([to_display(p)]) for p in plist]
        half = max(r[1] - r[0] for rr in ranges for r in rr) / 2
        layout = {}
        for i, (p, lab) in enumerate(zip(plist, labels)):
            for t in skeleton_traces(p, name=lab, showlegend=False):
                fig.add_trace(t, row=1, col=i + 1)
            centred = [[0.5 * (r[0] + r[1]) - half, 0.5 * (r[0] + r[1]) + half] for r in ranges[i]]
            layout["scene" if i == 0 else f"scene{i + 1}"] = _scene(camera, centred)
        fig.update_layout(**layout)
    subtitles = mode == "side_by_side" and len(plist) > 1
    top = 80 if (title and subtitles) else 40 if (title or subtitles) else 10
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=top, b=0),
                      title=dict(text=title) if title else None, showlegend=len(plist) > 1 and mode == "overlay",
                      legend=dict(x=0.01, y=0.99))
    return fig


def animation_figure(sequence, fps: float = 25.0, title: str | None = None, camera: str = "front",
                     height: int = 450, max_frames: int = 300) -> go.Figure:
    """A (T, 17, 3) camera-frame sequence as a Plotly animation with a play button and a frame
    slider. Sequences longer than ``max_frames`` are subsampled uniformly (the slider shows the
    original frame numbers); the axis ranges are fixed over the whole sequence."""
    if hasattr(sequence, "detach"):
        sequence = sequence.detach().cpu().numpy()
    seq = np.asarray(sequence, dtype=float)
    if seq.ndim != 3 or seq.shape[1:] != (sk.NUM_JOINTS, 3):
        raise ValueError(f"sequence: expected shape (T, {sk.NUM_JOINTS}, 3), got {seq.shape}")
    if seq.shape[0] == 0:
        raise ValueError("sequence: has no frames")
    if not np.isfinite(seq).all():
        bad = np.nonzero(~np.isfinite(seq).all(axis=(1, 2)))[0]
        raise ValueError(f"sequence: contains NaN/inf values in {len(bad)} frames (first: {int(bad[0])})")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    idx = np.unique(np.linspace(0, seq.shape[0] - 1, min(seq.shape[0], max_frames)).round().astype(int))
    step = (idx[1] - idx[0]) if len(idx) > 1 else 1
    duration = 1000.0 * step / fps

    fig = go.Figure(data=skeleton_traces(seq[idx[0]], name="pose", showlegend=False))
    frames = []
    for t in idx:
        tr = skeleton_traces(seq[t], name="pose", showlegend=False)
        frames.append(go.Frame(data=[go.Scatter3d(x=x.x, y=x.y, z=x.z) for x in tr], name=str(int(t))))
    fig.frames = frames
    play = dict(label="▶ play", method="animate",
                args=[None, dict(frame=dict(duration=duration, redraw=True), fromcurrent=True,
                                 transition=dict(duration=0), mode="immediate")])
    pause = dict(label="❚❚ pause", method="animate",
                 args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate",
                                    transition=dict(duration=0))])
    slider = dict(active=0, x=0.1, len=0.88, y=0, pad=dict(t=10, b=5),
                  currentvalue=dict(prefix="frame "),
                  steps=[dict(label=str(int(t)), method="animate",
                              args=[[str(int(t))], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                                         transition=dict(duration=0))]) for t in idx])
    fig.update_layout(
        scene=_scene(camera, _cube_ranges([to_display(seq[idx])])), height=height,
        title=dict(text=title) if title else None, margin=dict(l=0, r=0, t=40 if title else 10, b=0),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=0, xanchor="left", yanchor="top",
                          pad=dict(t=10, r=10), showactive=False, buttons=[play, pause])],
        sliders=[slider], showlegend=False)
    return fig


class _PlotlyDisplay:
    """IPython display object: an HTML div for the book (plotly.js is supplied by the page) and the
    Plotly JSON mimetype for JupyterLab."""

    def __init__(self, fig: go.Figure):
        self.fig = fig

    def _repr_mimebundle_(self, include=None, exclude=None):
        html = self.fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                                config=dict(displaylogo=False, responsive=True))
        # the wrapper keeps the responsive plot inside the page's output area (no scrollbar)
        html = f'<div class="posecore-plotly" style="width:100%; overflow:hidden;">{html}</div>'
        return {PLOTLY_MIMETYPE: json.loads(self.fig.to_json()), "text/html": html,
                "text/plain": f"<plotly figure: {len(self.fig.data)} traces>"}


def show(fig: go.Figure):
    """Display ``fig`` in a notebook such that the published book needs no network: the output is
    an HTML div without plotly.js (the book page loads its one local copy) plus the Plotly JSON
    mimetype, which JupyterLab renders with its own plotly. Returns None (so nothing prints twice)."""
    from IPython.display import display
    if not isinstance(fig, go.Figure):
        raise TypeError(f"show: expected a plotly Figure, got {type(fig).__name__}")
    display(_PlotlyDisplay(fig))


# --- matplotlib -----------------------------------------------------------------------------------
def _bone_color(bone, colors=None):
    return (colors or SIDE_COLORS)[sk.bone_side(bone)]


def plot_skeleton_2d(ax, pose_2d, color: str | None = None, linewidth: float = 2.0,
                     marker_size: float = 12.0, label: str | None = None, invert_y: bool | None = None,
                     alpha: float = 1.0, linestyle: str = "-"):
    """Draw a (17, 2) pixel pose on a matplotlib Axes (image convention: y down). ``color`` None
    colours bones by side. The y axis is inverted unless it already is or ``invert_y=False``.
    Returns the Axes."""
    p = _as_pose(pose_2d, 2, "pose_2d")
    for k, bone in enumerate(sk.BONES):
        a, b = bone
        ax.plot([p[a, 0], p[b, 0]], [p[a, 1], p[b, 1]], color=color or _bone_color(bone), lw=linewidth,
                alpha=alpha, ls=linestyle, solid_capstyle="round", label=label if k == 0 else None)
    ax.scatter(p[:, 0], p[:, 1], s=marker_size, color=color or "k", alpha=alpha, zorder=3)
    if invert_y is None:
        invert_y = not ax.yaxis_inverted()
    if invert_y and not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_aspect("equal", adjustable="datalim")
    return ax


def plot_skeleton_3d(ax, pose_3d, color: str | None = None, linewidth: float = 2.0,
                     label: str | None = None, alpha: float = 1.0, linestyle: str = "-",
                     elev: float = 10.0, azim: float = -90.0, equal: bool = True):
    """Draw a (17, 3) camera-frame pose (mm) on a matplotlib 3D Axes (``projection='3d'``) in the
    upright display frame (X = x, Y = depth, Z = -y) with equal axis scales. Returns the Axes."""
    if getattr(ax, "name", "") != "3d":
        raise ValueError("plot_skeleton_3d: ax must be a 3D Axes (fig.add_subplot(projection='3d'))")
    d = to_display(_as_pose(pose_3d, 3, "pose_3d"))
    for k, bone in enumerate(sk.BONES):
        a, b = bone
        ax.plot(d[[a, b], 0], d[[a, b], 1], d[[a, b], 2], color=color or _bone_color(bone), lw=linewidth,
                alpha=alpha, ls=linestyle, label=label if k == 0 else None)
    if equal:
        # union with what the axes already show, so several poses share one cube
        pts = [d]
        if getattr(ax, "_posecore_pts", None) is not None:
            pts.append(ax._posecore_pts)
        allp = np.concatenate(pts)
        ax._posecore_pts = allp
        r = _cube_ranges([allp])
        ax.set_xlim(r[0]); ax.set_ylim(r[1]); ax.set_zlim(r[2])
        ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x (mm)"); ax.set_ylabel("depth (mm)"); ax.set_zlabel("up (mm)")
    ax.view_init(elev=elev, azim=azim)
    return ax


def image_with_skeleton(ax, image, pose_2d, title: str | None = None, **kwargs):
    """Show an (H, W, 3) image (uint8 or float in [0, 1]) with a (17, 2) pixel pose on top."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image: expected shape (H, W, 3), got {img.shape}")
    ax.imshow(img)
    plot_skeleton_2d(ax, pose_2d, invert_y=False, **kwargs)
    ax.set_xlim(0, img.shape[1]); ax.set_ylim(img.shape[0], 0)
    ax.set_aspect("equal", adjustable="box")          # keep the limits (no "Ignoring fixed limits" warning)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


# --- ipywidgets (JupyterLab only; the book never needs a kernel) --------------------------------
def explorer(poses_list, labels: Sequence[str] | None = None, camera: str = "front"):
    """An ipywidgets explorer: a slider over a list of poses (or of (prediction, ground truth)
    pairs) and a camera menu, showing each item with :func:`skeleton_figure` in overlay mode.
    Needs a live kernel (JupyterLab); the published book never uses it."""
    import ipywidgets as widgets
    items = list(poses_list)
    if not items:
        raise ValueError("explorer: got an empty list")
    for i, item in enumerate(items):  # validate everything up front, with the item's index
        try:
            _as_pose_list(item)
        except ValueError as e:
            raise ValueError(f"explorer: item {i}: {e}") from e
    slider = widgets.IntSlider(min=0, max=len(items) - 1, value=0, description="sample")
    cam = widgets.Dropdown(options=list(CAMERAS), value=camera, description="camera")
    out = widgets.Output()

    def update(_=None):
        fig = skeleton_figure(items[slider.value], labels=labels, mode="overlay", camera=cam.value)
        out.clear_output(wait=True)
        with out:
            show(fig)
    slider.observe(update, names="value")
    cam.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([slider, cam]), out])


def show_cases(pred, gt, errors, what: str = "", k: int = 1):
    """Interactive overlays (prediction vs ground truth, root-centred mm) of the ``k`` best and worst
    samples by ``errors`` (N,)."""
    order = np.argsort(errors)
    for kind, idx in (("good", order[:k]), ("failed", order[::-1][:k])):
        for i in idx:
            p, g = np.asarray(pred[i], float), np.asarray(gt[i], float)
            show(skeleton_figure([p - p[:1], g - g[:1]], ["prediction", "ground truth"], mode="overlay",
                                         title=f"{what} {kind} case #{i}: {errors[i]:.1f} mm"))
