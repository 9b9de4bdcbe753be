"""posecore.params: a chapter's papermill parameters checked against its parameters cell.

Unit tests on fake IPython input histories (``In``), the up-front check of
``python -m posecore.book execute -p``, and one real papermill run of a throwaway notebook.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from posecore import book, params
from posecore.params import ParameterError

PARAMS_CELL = """\
profile = None   # smoke / quick / full
dataset = "synth"
data_root = None
seed = 0
gan_steps = 400
lr = 1e-3
use_geo = True
sizes = [32, 64]
"""


def history(injected: str | None = None, *more: str) -> list[str]:
    """A kernel's ``In``: In[0] is '', then the parameters cell, papermill's cell, the rest."""
    cells = ["", PARAMS_CELL]
    if injected is not None:
        cells.append("# Parameters\n" + injected)
    return cells + ["import posecore.params\nposecore.params.validate()", *more]


# --- fine ------------------------------------------------------------------------------------------
def test_no_injected_cell_gives_the_defaults():
    got = params.validate(history())
    assert got == {"profile": None, "dataset": "synth", "data_root": None, "seed": 0, "gan_steps": 400,
                   "lr": 1e-3, "use_geo": True, "sizes": [32, 64]}


@pytest.mark.parametrize("injected, name, value", [
    ('profile = "smoke"\n', "profile", "smoke"),           # None default: anything
    ("data_root = 3\n", "data_root", 3),
    ("seed = 3\n", "seed", 3),                              # int
    ("gan_steps = 10\n", "gan_steps", 10),
    ("lr = 0.01\n", "lr", 0.01),                            # float accepts float ...
    ("lr = 1\n", "lr", 1),                                  # ... and int
    ('dataset = "h36m"\n', "dataset", "h36m"),              # str
    ("use_geo = False\n", "use_geo", False),                # bool
    ("sizes = (16, 32)\n", "sizes", (16, 32)),              # list accepts tuple and list
    ("sizes = []\n", "sizes", []),
])
def test_values_that_fit(injected, name, value):
    got = params.validate(history(injected))
    assert got[name] == value
    assert got["seed"] == (value if name == "seed" else 0)


def test_several_injected_values_and_comments():
    got = params.validate(history('profile = "smoke"\nseed = 7\n# a comment\ngan_steps = 5\n'))
    assert (got["profile"], got["seed"], got["gan_steps"]) == ("smoke", 7, 5)


def test_later_cells_do_not_matter():
    # a cell that starts with "# Parameters" after the validate cell is not papermill's
    assert params.validate(history(None, "# Parameters\ngan_stepz = 3\n"))["gan_steps"] == 400


def test_outside_ipython_is_a_noop():
    code = "import posecore.params as p; print(repr(p.validate()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "{}"


def test_in_a_pytest_process_without_ipython_is_a_noop(monkeypatch):
    monkeypatch.setattr(params, "_history", lambda: None)
    assert params.validate() == {}


def test_empty_history():
    assert params.validate([""]) == {}


# --- errors ------------------------------------------------------------------------------------------
def test_unknown_name_suggests_the_closest():
    with pytest.raises(ParameterError) as e:
        params.validate(history("gan_stepz = 3\n"))
    msg = str(e.value)
    assert "'gan_stepz'" in msg and "did you mean 'gan_steps'" in msg and "3" in msg


def test_unknown_name_without_a_close_one():
    with pytest.raises(ParameterError, match="unknown parameter 'xyz'") as e:
        params.validate(history("xyz = 1\n"))
    assert "did you mean" not in str(e.value)
    assert "gan_steps" in str(e.value)  # lists the declared parameters


@pytest.mark.parametrize("injected, name, expected", [
    ('gan_steps = "abc"\n', "gan_steps", "an int"),
    ('seed = "abc"\n', "seed", "an int"),
    ("seed = True\n", "seed", "an int"),               # bool is not an int
    ("seed = 1.5\n", "seed", "an int"),
    ('lr = "fast"\n', "lr", "a float"),
    ("lr = False\n", "lr", "a float"),
    ("dataset = 3\n", "dataset", "a str"),
    ("use_geo = 1\n", "use_geo", "a bool"),
    ('use_geo = "yes"\n', "use_geo", "a bool"),
    ("sizes = 3\n", "sizes", "a list or a tuple"),
    ("seed = None\n", "seed", "an int"),
])
def test_wrong_type_names_parameter_type_and_value(injected, name, expected):
    with pytest.raises(ParameterError) as e:
        params.validate(history(injected))
    msg = str(e.value)
    value = injected.split("=", 1)[1].strip()
    assert f"parameter {name!r}" in msg and expected in msg and value.strip('"') in msg, msg


def test_parameter_error_is_a_value_error():
    assert issubclass(ParameterError, ValueError)


def test_first_cell_not_a_parameters_cell():
    with pytest.raises(ParameterError, match="first cell"):
        params.validate(["", "import numpy as np\nx = np.zeros(3)", "# Parameters\nseed = 1\n"])


def test_injected_cell_without_parameters_cell():
    with pytest.raises(ParameterError, match="no parameters cell"):
        params.validate(["", "# Parameters\nseed = 1\n", "posecore.params.validate()"])


def test_check_directly():
    assert params.check({"a": 1, "b": None}, {"b": "x"}) == {"a": 1, "b": "x"}
    with pytest.raises(ParameterError, match="03.py: parameter 'a'"):
        params.check({"a": 1}, {"a": "1"}, where="03.py: ")


# --- python -m posecore.book execute -p: checked before papermill starts ------------------------------
def _no_run(*args, **kwargs):
    raise AssertionError("a notebook was started despite bad parameters")


@pytest.mark.parametrize("extra, needle", [
    ({"seed": "abc"}, "parameter 'seed' expects an int"),
    ({"sed": 3}, "did you mean 'seed'"),
])
def test_book_execute_checks_parameters_up_front(monkeypatch, tmp_path, extra, needle):
    monkeypatch.setattr(book.execution, "_run_one", _no_run)
    with pytest.raises(book.BookError, match=needle):
        book.execute("smoke", only=["00"], out_dir=tmp_path, extra=extra)


def test_book_cli_parses_p_values_like_literals(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(book.execution, "_run_one", _no_run)
    rc = book.main(["execute", "--profile", "smoke", "--only", "00", "--out", str(tmp_path), "-p", "seed", "abc"])
    assert rc == 1
    assert "parameter 'seed' expects an int" in capsys.readouterr().err


# --- a real papermill run ------------------------------------------------------------------------------
NOTEBOOK = """\
# %% tags=["parameters"]
profile = None
seed = 0
gan_steps = 400

# %%
import posecore.params

checked = posecore.params.validate()
print("checked", checked)
"""


@pytest.fixture(scope="module")
def throwaway_notebook(tmp_path_factory):
    import jupytext
    folder = tmp_path_factory.mktemp("params_nb")
    nb = jupytext.reads(NOTEBOOK, fmt="py:percent")
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": book.KERNEL}
    path = folder / "throwaway.ipynb"
    jupytext.write(nb, path)
    return path


def _papermill(src, out, *args):
    return subprocess.run([sys.executable, "-m", "papermill", str(src), str(out), "--kernel", book.KERNEL,
                           "--cwd", str(src.parent), *args], capture_output=True, text=True, timeout=300)


def test_papermill_typo_fails_with_the_message(throwaway_notebook):
    out = throwaway_notebook.parent / "typo.ipynb"
    res = _papermill(throwaway_notebook, out, "-p", "gan_stepz", "3")
    assert res.returncode != 0
    text = res.stdout + res.stderr + (out.read_text() if out.exists() else "")
    assert "ParameterError" in text and "unknown parameter 'gan_stepz'" in text and "did you mean 'gan_steps'" in text


def test_papermill_good_value_passes(throwaway_notebook):
    out = throwaway_notebook.parent / "ok.ipynb"
    res = _papermill(throwaway_notebook, out, "-p", "seed", "3")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "'seed': 3" in out.read_text() and "'gan_steps': 400" in out.read_text()
