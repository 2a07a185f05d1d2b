"""Plain command lines parsed without typer's parameter machinery, for the commands a controller runs
every few minutes.

typer coerces every parameter through a pydantic TypeAdapter: importing pydantic and building the
adapters costs about 70 ms of every start (benchmarks/README.md), a twentieth of a whole
`rollout evaluate` over 2M units. A command line that only names the command's own options — text,
path, number, choice (Enum) and flag parameters, given once, values not starting with "-", and a last
argument that takes every remaining word (`list[Path]`) — is parsed here from the same
signature typer reads, and the command is called with what typer would have passed. Anything else
(`--help`, `--no-…`, an unknown or repeated option, a missing argument, a parameter with a callback,
a prompt or another type) returns None, and typer parses it as usual, with typer's messages.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import typer
from typer.models import ArgumentInfo, OptionInfo, ParameterInfo

_VALUED = (str, Path, int, float)


def _plain_type(hint: Any) -> Any:
    """str, Path, int, float or bool (the first four optionally `| None`), an Enum, or `list[str]` /
    `list[Path]`; None for any other type."""
    if get_origin(hint) in (Union, UnionType):
        rest = [a for a in get_args(hint) if a is not type(None)]
        return rest[0] if len(rest) == 1 and rest[0] in _VALUED else None
    if get_origin(hint) is list:
        return hint if get_args(hint)[0] in (str, Path) else None
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    return hint if hint in (*_VALUED, bool) else None


def _many(kind: Any) -> bool:
    return get_origin(kind) is list


def _value(kind: Any, info: ParameterInfo, text: str) -> Any:
    """`text` as typer would pass it, or None when typer would refuse it (and say why)."""
    if kind is str:
        return text
    if kind is Path:
        return Path(text)
    if isinstance(kind, type) and issubclass(kind, Enum):  # typer's choices are the values, case and all
        return next((member for member in kind if member.value == text), None)
    try:
        number = kind(text)
    except ValueError:
        return None
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if not math.isfinite(number) or (low is not None and number < low) or (high is not None and number > high):
        return None
    return number


def _spec(func: Callable[..., Any]) -> list[tuple[str, Any, ArgumentInfo | OptionInfo, Any]] | None:
    """(name, type, typer's info, default) of each parameter, or None when one is not plain."""
    hints = get_type_hints(func, include_extras=True)
    spec: list[tuple[str, Any, ArgumentInfo | OptionInfo, Any]] = []
    for name, parameter in inspect.signature(func).parameters.items():
        hint = hints[name]
        if get_origin(hint) is not Annotated:
            return None
        base, *extras = get_args(hint)
        info = next((e for e in extras if isinstance(e, ParameterInfo)), None)
        kind = _plain_type(base)
        if kind is None or not isinstance(info, (ArgumentInfo, OptionInfo)) or not _plain_info(info, kind):
            return None
        default = parameter.default if parameter.default is not inspect.Parameter.empty else ...
        if _many(kind) and (isinstance(info, OptionInfo) or default is not ...):
            return None  # only a required argument takes several words here
        spec.append((name, kind, info, default))
    positional = [kind for _, kind, info, _ in spec if isinstance(info, ArgumentInfo)]
    return None if any(_many(kind) for kind in positional[:-1]) else spec


# typer's settings that change what a value becomes, at the values that leave it as typed
_AS_TYPED = {"callback": None, "parser": None, "default_factory": None, "expose_value": True, "exists": False,
             "resolve_path": False, "path_type": None, "prompt": False, "count": False, "is_flag": None,
             "flag_value": None, "case_sensitive": True}


def _plain_info(info: ParameterInfo, kind: Any) -> bool:
    return (all(getattr(info, key, plain) == plain for key, plain in _AS_TYPED.items())
            and not (kind is bool and getattr(info, "envvar", None)))


def _option_names(name: str, info: OptionInfo) -> list[str]:
    # inside Annotated, typer reads Option("--stage", …)'s first value as a name, not a default
    first = [info.default] if isinstance(info.default, str) else []
    declared = [d for d in (*first, *(info.param_decls or ())) if d.startswith("-")]
    return declared or ["--" + name.replace("_", "-")]


def parse_plain(func: Callable[..., Any], words: list[str]) -> dict[str, Any] | None:
    """The keyword arguments typer would call `func` with for `words` (what follows the command's
    name), or None when the line is not plain (module docstring)."""
    spec = _spec(func)
    if spec is None:
        return None
    options = {n: (name, kind) for name, kind, info, _ in spec if isinstance(info, OptionInfo)
               for n in _option_names(name, info)}
    positional = [(name, kind) for name, kind, info, _ in spec if isinstance(info, ArgumentInfo)]
    info_of = {name: info for name, _, info, _ in spec}
    given: dict[str, Any] = {}
    words = list(words)
    while words:
        word = words.pop(0)
        if not word.startswith("-"):
            if not positional:
                return None
            name, kind = positional[0]
            if _many(kind):  # the last argument: this word and every later one that is not an option
                given.setdefault(name, []).append(_value(get_args(kind)[0], info_of[name], word))
                continue
            positional.pop(0)
            value = word
        else:
            flag, has_value, value = word.partition("=")
            if flag not in options or options[flag][0] in given:
                return None
            name, kind = options[flag]
            if kind is bool:
                if has_value:
                    return None
                given[name] = True
                continue
            if not has_value:
                if not words or words[0].startswith("-"):
                    return None
                value = words.pop(0)
        given[name] = _value(kind, info_of[name], value)
        if given[name] is None:
            return None
    kwargs = {}
    for name, kind, info, default in spec:
        if name in given:
            kwargs[name] = given[name]
            continue
        envvar = getattr(info, "envvar", None)
        names = [envvar] if isinstance(envvar, str) else list(envvar or ())
        found = next((os.environ[n] for n in names if os.environ.get(n)), None)
        if found is not None:
            kwargs[name] = _value(kind, info, found)
            if kwargs[name] is None:
                return None
        elif default is ...:
            return None  # a required value is missing: typer says so
        else:
            kwargs[name] = default
    return kwargs


def call_plain(commands: dict[str, Callable[..., Any]], args: list[str]) -> int | None:
    """Run `rollout [--debug] NAME …` plainly when NAME is one of `commands` and the line is plain;
    the exit code, or None for typer to handle the line."""
    words = list(args)
    while words and words[0] == "--debug":
        words.pop(0)
    if not words or words[0] not in commands:
        return None
    func = commands[words[0]]
    kwargs = parse_plain(func, words[1:])
    if kwargs is None:
        return None
    try:
        result = func(**kwargs)
    except typer.Exit as done:
        return int(done.exit_code)
    return int(result) if isinstance(result, int) else 0
