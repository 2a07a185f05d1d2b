"""Load a plan's YAML safely, keeping where every value came from.

Plans arrive on untrusted pull requests, so the loader: refuses tags that construct objects,
reports duplicate keys (plain PyYAML silently keeps the last), bounds alias expansion and file
size, and records the line and column of every JSON path for error messages.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 64  # nesting levels; a plan needs about 5
MAX_NUMBER_CHARS = 100  # digits of an int or float; Python refuses to convert past 4,300
MAX_NODES = 100_000  # values after alias expansion: room for 10,000 metrics and guards; a "billion laughs" file hits this in ~0.5 s

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
}


_TAG_WORDS = {
    "tag:yaml.org,2002:int": "integer",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:bool": "boolean",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:str": "string",
}


def _shown(value: str) -> str:
    """A scalar's text for a message: quoted, and cut when long."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


class Location(NamedTuple):
    """1-based line and column in a file (a tuple: a big plan records 100,000 of them)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One located problem with a plan."""

    file: str
    line: int
    column: int
    path: str  # JSON path such as $.stages[2].traffic
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "path": self.path, "message": self.message}


class LoadError(Exception):
    """The file is not a loadable plan; carries one located problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class LoadedDocument:
    """The plain data of a plan plus the location of every JSON path in it."""

    file: str
    data: Any
    locations: dict[str, Location] = field(default_factory=dict)
    key_locations: dict[str, Location] = field(default_factory=dict)  # where a mapping key is written

    def locate(self, path: str, *, key: bool = False) -> Location:
        """The location of `path`, or of its nearest located ancestor."""
        table = self.key_locations if key else self.locations
        probe = path
        while True:
            if probe in table:
                return table[probe]
            if probe in self.locations:
                return self.locations[probe]
            parent = parent_path(probe)
            if parent == probe:
                return Location(self.file, 1, 1)
            probe = parent


def child_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if key.isidentifier():
        return f"{parent}.{key}"
    return f"{parent}[{key!r}]"


def parent_path(path: str) -> str:
    """`$.a.b[2]` -> `$.a.b`; `$` -> `$`."""
    if path == "$":
        return path
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else "$"


def load_plan_file(path: str | Path) -> LoadedDocument:
    """Read and parse `path`. Raises LoadError with a located problem."""
    name = str(path)
    too_big = f"a plan may be at most {MAX_FILE_BYTES}"
    try:
        info = Path(path).stat()
        if stat.S_ISDIR(info.st_mode):
            raise LoadError(Problem(name, 1, 1, "$", "is a folder, not a plan file"))
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or a device (/dev/zero) would block or never end: read plain files only.
            raise LoadError(Problem(name, 1, 1, "$", "is not a regular file (a pipe or a device?); a plan is a YAML file"))
        if info.st_size > MAX_FILE_BYTES:
            raise LoadError(Problem(name, 1, 1, "$", f"file is {info.st_size} bytes; {too_big}"))
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # bounded even if the file grows meanwhile
        if len(raw) > MAX_FILE_BYTES:
            raise LoadError(Problem(name, 1, 1, "$", f"file is over {MAX_FILE_BYTES} bytes; {too_big}"))
    except OSError as exc:
        raise LoadError(Problem(name, 1, 1, "$", f"cannot read file: {exc.strerror or exc}")) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _byte_position(raw, exc.start)
        message = f"file is not UTF-8 text ({exc.reason}: byte 0x{raw[exc.start]:02x})"
        raise LoadError(Problem(name, line, column, "$", message)) from None
    return load_plan_text(text, name)


def _byte_position(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte `offset` of a file valid up to there."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
    return raw.count(b"\n", 0, offset) + 1, column


def _text_position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character `index` of `text`."""
    index = max(0, min(index, len(text)))
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def load_plan_text(text: str, file: str = "<plan>") -> LoadedDocument:
    """Parse YAML text into plain data with locations. Raises LoadError."""
    # libyaml's parser when PyYAML has it (5x faster on a plan); our builder below does the
    # constructing either way, so the safety rules are the same.
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        try:
            _limit_depth(loader_class(text), file)
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            message = f"YAML syntax error: {exc.problem or exc}"
            raise LoadError(Problem(file, line, col, "$", message)) from None
        except yaml.reader.ReaderError as exc:
            # A control character or a non-printable one: the reader knows where it is.
            line, col = _text_position(text, exc.position)
            code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
            message = f"YAML error: character #x{code:04x} is not allowed ({exc.reason})"
            raise LoadError(Problem(file, line, col, "$", message)) from None
        except yaml.YAMLError as exc:
            raise LoadError(Problem(file, 1, 1, "$", f"YAML error: {exc}")) from None
        doc = LoadedDocument(file=file, data=None)
        if node is None:
            raise LoadError(Problem(file, 1, 1, "$", "the file is empty; a plan is a YAML mapping"))
        builder = _Builder(loader, doc)
        doc.data = builder.build(node, "$")
        return doc
    finally:
        loader.dispose()


def _limit_depth(parser: Any, file: str) -> None:
    """Refuse deep nesting before composing: the composers recurse once per level, so a file of
    "[[[[…" would exhaust Python's stack (or, in libyaml's, crash the process). Events stream
    without recursion, so counting them is safe whatever the input."""
    depth = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise LoadError(
                        Problem(file, mark.line + 1, mark.column + 1, "$", f"the document nests deeper than {MAX_DEPTH} levels")
                    )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    finally:
        parser.dispose()


class _Builder:
    """Turns composed YAML nodes into plain data, refusing anything unsafe."""

    def __init__(self, loader: Any, doc: LoadedDocument) -> None:  # yaml.SafeLoader or yaml.CSafeLoader
        self.loader = loader
        self.doc = doc
        self.count = 0
        self.open_nodes: set[int] = set()  # collections being built, outermost first

    def _loc(self, node: yaml.Node) -> Location:
        return Location(self.doc.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def _fail(self, node: yaml.Node, path: str, message: str) -> LoadError:
        loc = self._loc(node)
        return LoadError(Problem(self.doc.file, loc.line, loc.column, path, message))

    def build(self, node: yaml.Node, path: str) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self._fail(node, path, f"the document expands to more than {MAX_NODES} values (alias bomb?)")
        if node.tag not in _PLAIN_TAGS:
            raise self._fail(node, path, f"YAML tag {node.tag!r} is not allowed; plans hold plain data only")
        self.doc.locations.setdefault(path, self._loc(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        # Aliases share nodes: a node inside itself is a recursive alias (`a: &a [*a]`), and a
        # chain of anchors nests deeper than the text shows, so both are checked here, on the
        # built value, not only on the parser's events.
        if id(node) in self.open_nodes:
            raise self._fail(node, path, "a recursive alias: this value contains itself")
        if len(self.open_nodes) >= MAX_DEPTH:
            raise self._fail(node, path, f"the document nests deeper than {MAX_DEPTH} levels (through aliases)")
        self.open_nodes.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, child_path(path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open_nodes.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        """The scalar's value, or a located problem when its text does not fit its tag
        (`!!int abc`, `!!bool maybe`, an integer longer than Python converts)."""
        if node.tag == "tag:yaml.org,2002:str":
            return node.value  # what the constructor would return, minus its per-call cost
        word = _TAG_WORDS.get(node.tag, node.tag)
        if node.tag == "tag:yaml.org,2002:timestamp":
            return str(node.value)  # plans have no timestamps; keep the text for a clear type error
        if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and len(node.value) > MAX_NUMBER_CHARS:
            raise self._fail(node, path, f"{word} of {len(node.value)} characters; a plan's numbers have at most {MAX_NUMBER_CHARS}")
        try:
            return self.loader.construct_object(node)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, yaml.YAMLError):
            raise self._fail(node, path, f"{_shown(node.value)} is not a valid {word}") from None

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._fail(key_node, path, "YAML merge keys (<<) are not allowed in plans")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                raise self._fail(key_node, path, "mapping keys must be plain scalars")
            key = self._scalar(key_node, path)
            key = key if isinstance(key, str) else str(key)
            sub = child_path(path, key)
            if key in first_seen:
                before = first_seen[key].start_mark.line + 1
                raise self._fail(key_node, sub, f"duplicate key {key!r} (first defined on line {before})")
            first_seen[key] = key_node
            self.doc.key_locations[sub] = self._loc(key_node)
            result[key] = self.build(value_node, sub)
        return result
