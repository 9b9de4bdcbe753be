"""Check a chapter's papermill parameters against its ``parameters`` cell, before they are used.

Each chapter calls :func:`validate` in the cell right after its parameters cell::

    import posecore.params
    posecore.params.validate()

so that ``papermill ... -p gan_stepz 3`` (a typo) or ``-p gan_steps abc`` (a string where the
default is an int) fail at once with a :class:`ParameterError` that names the parameter, the type
its default implies and the value given, instead of running silently on the defaults or failing
deep inside training.

How it finds the cells: it reads the kernel's input history (IPython's ``In``). The first executed
cell is the parameters cell (``posecore.book.check_parameters_cell`` enforces that it is the first
code cell and holds only flat ``name = literal`` assignments); papermill runs the cell it injects,
whose source starts with the comment ``# Parameters``, right after it. Both are parsed with
:mod:`ast`; nothing is evaluated. Outside IPython (plain ``python``) :func:`validate` does nothing.

Type rules (:func:`check`), from the default in the parameters cell:

* ``None``: anything;
* ``int``: an int, not a bool;
* ``float``: an int or a float (not a bool);
* ``str``: a str; ``bool``: a bool;
* ``list`` or ``tuple``: a list or a tuple;
* anything else (e.g. ``dict``): a value of the same type.

``python -m posecore.book execute -p NAME VALUE`` applies the same :func:`check` before it starts
papermill.
"""
from __future__ import annotations

import ast
import difflib
from typing import Any, Iterable

INJECTED_MARKER = "# Parameters"

__all__ = ["ParameterError", "validate", "check", "check_value", "parse_assignments", "expected_type"]


class ParameterError(ValueError):
    """A papermill parameter that the notebook does not declare, or whose value has the wrong type."""


def parse_assignments(source: str, what: str = "cell") -> dict[str, Any]:
    """``{name: value}`` of a cell made only of flat ``name = literal`` assignments (comments and
    blank lines allowed). Raises :class:`ParameterError` for anything else."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ParameterError(f"{what} does not parse: {e}") from e
    out: dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            raise ParameterError(f"{what} line {stmt.lineno}: only flat assignments `name = literal` "
                                 f"are allowed, got {ast.get_source_segment(source, stmt)!r}")
        try:
            out[target.id] = ast.literal_eval(value)
        except ValueError as e:
            raise ParameterError(f"{what}: parameter {target.id!r} must be a literal, got "
                                 f"{ast.get_source_segment(source, value)!r}") from e
    return out


def _is_assignments(source: str) -> bool:
    try:
        parse_assignments(source)
    except ParameterError:
        return False
    return True


def expected_type(default: Any) -> str:
    """The type a parameter with this default accepts, in words."""
    if default is None:
        return "any value"
    if isinstance(default, bool):
        return "a bool (True or False)"
    if isinstance(default, int):
        return "an int"
    if isinstance(default, float):
        return "a float (or an int)"
    if isinstance(default, str):
        return "a str"
    if isinstance(default, (list, tuple)):
        return "a list or a tuple"
    return f"a {type(default).__name__}"


def _fits(default: Any, value: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def check_value(name: str, default: Any, value: Any, where: str = "") -> Any:
    """``value`` if it fits the type of ``default`` (see the module's rules), else ParameterError."""
    if not _fits(default, value):
        raise ParameterError(f"{where}parameter {name!r} expects {expected_type(default)} (its default "
                             f"is {default!r}), got {value!r} ({type(value).__name__})")
    return value


def check(declared: dict[str, Any], given: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Check ``given`` (name -> value) against the ``declared`` defaults of a parameters cell.

    Raises :class:`ParameterError` for a name that is not declared (suggesting the closest declared
    name) or a value whose type does not fit its default. Returns every parameter's value: the
    defaults, with ``given`` applied. ``where`` prefixes the messages (e.g. ``"03_wang.py: "``)."""
    for name, value in given.items():
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParameterError(f"{where}unknown parameter {name!r} (given {value!r}): this notebook's "
                                 f"parameters are {', '.join(sorted(declared))}{hint}")
        check_value(name, declared[name], value, where)
    return {**declared, **given}


def _history() -> list[str] | None:
    """The running IPython kernel's input history (``In``), or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    if ip is None:
        return None
    return list(ip.user_ns.get("In", []))


def validate(history: Iterable[str] | None = None) -> dict[str, Any]:
    """Check the parameters papermill injected into this notebook against its parameters cell.

    ``history`` defaults to the kernel's ``In``; outside IPython this is a no-op returning ``{}``.
    Returns every parameter's value (the parameters cell's defaults with the injected values
    applied). Raises :class:`ParameterError` naming the parameter, the type its default implies and
    the value given, for an injected name the parameters cell does not declare or a value of the
    wrong type; also when the first executed cell is not a parameters cell (run the notebook from
    its first cell)."""
    if history is None:
        history = _history()
        if history is None:
            return {}
    cells = [str(c) for c in history if c is not None and str(c).strip()]
    if not cells:
        return {}
    first = cells[0]
    if first.lstrip().startswith(INJECTED_MARKER):
        # papermill injected a cell but the notebook has no parameters cell before it
        raise ParameterError("posecore.params.validate(): papermill injected parameters but the "
                             "notebook has no parameters cell before them (tag its first code cell "
                             "`parameters`)")
    try:
        declared = parse_assignments(first, "the parameters cell (the first cell run in this kernel)")
    except ParameterError as e:
        raise ParameterError(f"posecore.params.validate(): {e}. Run the notebook from its first cell "
                             "(the parameters cell), or restart the kernel.") from e
    given: dict[str, Any] = {}
    if len(cells) > 1 and cells[1].lstrip().startswith(INJECTED_MARKER):
        given = parse_assignments(cells[1], "papermill's injected parameters cell")
    return check(declared, given)
