"""One error hierarchy: user-facing checks raise SafestreetsError subclasses, and the command maps them.

A check a user can trip (an argument, a file, a run that is not there, data the job lacks) raises a
:class:`~safestreets.errors.SafestreetsError` subclass, which the command prints as one line with exit
code 1; anything else is a bug and exits 3. A plain ``raise ValueError`` in the package is therefore
either an internal guard, listed below with the reason, or a user error the command would call a bug.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

from safestreets import errors
from test_cli import run

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "safestreets"

#: ``raise ValueError`` sites that no user input reaches, as (module path, enclosing function): why.
ALLOWED_VALUE_ERRORS: dict[tuple[str, str], str] = {
    ("sources/force_records.py", "_complete"): "a pydantic check: read_mapping reports it as an InputError",
    ("sources/force_records.py", "_types_known"): "a pydantic check, as _complete",
    ("sources/policeuk.py", "stage"): "the loader refuses a stop-and-search file without a force first",
    ("store/assign.py", "assign_areas"): "the table name goes into SQL; only the store's loaders pass one",
    ("web/deps.py", "require"): "a role misspelt in a route declaration, found when the app is built",
    ("store/layers.py", "period_counts"): "the column is chosen by the API's own callers, never by a user",
}

#: Names of the hierarchy's classes, as code catches them.
USER_ERRORS = {
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, errors.SafestreetsError)
}


def _modules() -> list[tuple[str, ast.Module]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    return [(p.relative_to(PACKAGE).as_posix(), ast.parse(p.read_text("utf-8"), str(p))) for p in paths]


def _walk(node: ast.AST, function: str = "<module>") -> list[tuple[ast.AST, str]]:
    """Every node under ``node`` with the name of the function it is in."""
    found = []
    for child in ast.iter_child_nodes(node):
        inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
        found.append((child, inner))
        found += _walk(child, inner)
    return found


def _raises_value_error(node: ast.AST) -> bool:
    if not isinstance(node, ast.Raise) or node.exc is None:
        return False
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return isinstance(exc, ast.Name) and exc.id == "ValueError"


def _names(node: ast.expr | None) -> set[str]:
    items = node.elts if isinstance(node, ast.Tuple) else [node] if node is not None else []
    return {
        n.id if isinstance(n, ast.Name) else n.attr for n in items if isinstance(n, ast.Name | ast.Attribute)
    }


def test_no_plain_value_error_outside_the_internal_guards() -> None:
    sites: dict[tuple[str, str], list[int]] = {}
    for path, tree in _modules():
        for node, function in _walk(tree):
            if _raises_value_error(node):
                sites.setdefault((path, function), []).append(node.lineno)  # type: ignore[attr-defined]
    unexpected = sorted(
        f"{path}:{lines[0]} in {function}()"
        for (path, function), lines in sites.items()
        if (path, function) not in ALLOWED_VALUE_ERRORS
    )
    assert not unexpected, (
        "a check a user can trip raises ValueError; raise a safestreets.errors class instead "
        f"(ParameterError, NoDataError, NotFoundError, InputError, ...): {unexpected}"
    )
    stale = set(ALLOWED_VALUE_ERRORS) - set(sites)
    assert not stale, f"allowed sites that no longer raise ValueError: remove them from the list: {stale}"


def test_user_errors_are_not_caught_together_with_value_error() -> None:
    """Catching ValueError beside SafestreetsError turns bugs into user errors (or notes): catch the
    hierarchy only, and make a check a user can trip raise it."""
    mixed = []
    for path, tree in _modules():
        for node, function in _walk(tree):
            if isinstance(node, ast.ExceptHandler):
                names = _names(node.type)
                if "ValueError" in names and names & USER_ERRORS:
                    mixed.append(f"{path}:{node.lineno} in {function}()")
    assert not mixed, mixed


def _bad_time() -> object:
    from safestreets.forecast.history import as_time

    return as_time("next tuesday")


def _bad_model() -> object:
    from safestreets.forecast import make_model

    return make_model("kdee")


def _bad_scheme() -> object:
    from safestreets.harm import weights

    return weights("onz")


def _month_only_week() -> object:
    from forecast_helpers import toy_history
    from safestreets.forecast.history import Horizon

    toy_history(months=3).check_horizon(Horizon.parse("1w"))
    return None


@pytest.mark.parametrize(
    ("call", "kind", "message"),
    [
        (_bad_time, errors.ParameterError, "'next tuesday' is not a time: write it as 2024-06"),
        (_bad_model, errors.ParameterError, "unknown model 'kdee': did you mean 'kde'?"),
        (_bad_scheme, errors.ParameterError, "unknown harm scheme 'onz': did you mean 'ons'?"),
        (_month_only_week, errors.NoDataError, "a 1w horizon needs timestamped events"),
    ],
    ids=["time", "model", "harm-scheme", "horizon"],
)
def test_library_checks_raise_the_fitting_class(call: Any, kind: type[Exception], message: str) -> None:
    with pytest.raises(kind) as caught:
        call()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


# --- the command maps them -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("errors") / "ws"
    r = run("init", workspace=ws)
    assert r.returncode == 0, r.stderr
    return ws


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("init", "--timezone", "Europe/Londn"),
            "unknown time zone 'Europe/Londn': did you mean 'Europe/London'?",
        ),
        (("plan",), "no forecast in the store: run 'safestreets forecast' first"),
        (("hotspots", "--forecast-run", "7"), "no forecast run 7 in the store"),
        (("forecast", "--model", "kde", "--harm-table", "{bad}"), "not a UTF-8 text CSV"),
    ],
    ids=["parameter", "no-data", "not-found", "input"],
)
def test_a_user_error_is_one_line_and_exit_1(
    empty_workspace: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    bad = tmp_path / "resources.csv"
    bad.write_bytes(b"bcu,shift,teams\n\xff\xfe,early,2\n")
    r = run(*(a.format(bad=bad) for a in args), workspace=empty_workspace)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stderr


def test_anything_else_is_an_internal_error_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import safestreets.cli
    import safestreets.cli.common

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something the code did not expect")

    monkeypatch.delenv("SAFESTREETS_DEBUG", raising=False)
    monkeypatch.setattr(safestreets.cli.common, "Workspace", broken)
    monkeypatch.setattr(sys, "argv", ["safestreets", "status", "--workspace", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        safestreets.cli.main()
    assert exit_.value.code == 3
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("internal error: RuntimeError: something the code did not expect")
    assert "SAFESTREETS_DEBUG=1" in lines[0]
