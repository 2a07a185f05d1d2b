"""What a router needs on its side before the first `rollout start`, for `rollout router setup`.

`setup_for(router)` lists, per built-in adapter:
  - files the adapter owns, which `--write` creates serving the baseline alone: the nginx include
    (`config_path`), the HAProxy `shadow_file`, the file router's file;
  - snippets a person pastes once into their own configuration, which are only printed: the
    nginx `server` locations, the HAProxy `global`/`defaults`/`backend` lines (HAProxy's options do
    not name the backend addresses, so those stay `<…>` for the person to fill in).
An existing owned file is never overwritten without `force`. Nothing here talks to a router.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollout_cli.errors import UsageError
from rollout_cli.routers.base import BASELINE_ONLY, Router
from rollout_cli.routers.file import FileRouter, write_atomically
from rollout_cli.routers.haproxy import HAProxyRouter
from rollout_cli.routers.http import HttpRouter
from rollout_cli.routers.nginx import NginxRouter
from rollout_cli.routers.nginx_config import server_snippet


@dataclass(frozen=True)
class SetupPiece:
    title: str  # what it is and where it goes, for people
    text: str
    path: Path | None = None  # a file the adapter owns (written by --write); None: paste it by hand

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "path": str(self.path) if self.path else None, "text": self.text}


def _nginx(router: NginxRouter) -> list[SetupPiece]:
    status_path = "/" + router.status_url.split("://", 1)[-1].split("/", 1)[-1] if router.status_url else None
    snippet = server_snippet(router.name, status_path or "/_rollout/split")
    return [
        SetupPiece(f"the include this router owns (http context), serving the baseline alone; include it once "
                   f"with `include {router.config_path};` inside `http {{ … }}` of {router.nginx_conf or 'nginx.conf'}",
                   router.render(BASELINE_ONLY), router.config_path),
        SetupPiece("paste once into the `server { … }` that serves the model (the status location is what "
                   "status_url reads)", snippet),
    ]


def _haproxy(router: HAProxyRouter) -> list[SetupPiece]:
    state = router.state_file or Path("/var/lib/haproxy/server-state")
    lines = (f"global\n    stats socket {router.socket_path} mode 600 level admin\n    server-state-file {state}\n"
             f"defaults\n    load-server-state-from-file global\n"
             f"backend {router.backend}\n"
             "    # to keep a user in one arm: balance hdr(X-User-ID) and hash-type consistent\n"
             f"    server {router.baseline_server} <baseline host:port> weight 1\n"
             f"    server {router.candidate_server} <candidate host:port> weight 0\n")
    pieces = [SetupPiece("add to haproxy.cfg (fill in the two backend addresses)", lines)]
    if router.shadow_file is not None:
        pieces.append(SetupPiece("the shadow file an outside mirror follows (no mirroring yet)",
                                 json.dumps({"shadow": 0.0}, indent=2) + "\n", router.shadow_file))
    return pieces


def setup_for(router: Router) -> list[SetupPiece]:
    if isinstance(router, NginxRouter):
        return _nginx(router)
    if isinstance(router, HAProxyRouter):
        return _haproxy(router)
    if isinstance(router, FileRouter):
        return [SetupPiece("the router file, serving the baseline alone (the serving system reads it)",
                           json.dumps(BASELINE_ONLY.to_json(), indent=2) + "\n", router.path)]
    if isinstance(router, HttpRouter):
        return [SetupPiece("the REST service must answer GET and PUT on the url with this JSON (nothing to write here)",
                           json.dumps(BASELINE_ONLY.to_json()) + "\n")]
    raise UsageError(f"no setup is known for the router {type(router).__name__}",
                     hint="see the adapter's own documentation")


def write_pieces(pieces: list[SetupPiece], *, force: bool) -> list[Path]:
    """Write the owned files; UsageError naming every existing file that differs, unless `force`."""
    owned = [p for p in pieces if p.path is not None]
    clashes = [p.path for p in owned if p.path is not None and p.path.exists()
               and p.path.read_text(encoding="utf-8", errors="replace") != p.text]
    if clashes and not force:
        raise UsageError(f"not overwriting {', '.join(str(c) for c in clashes)}: it exists with other content "
                         "(a live router may be reading it)", hint="compare it with `rollout router setup PLAN` "
                         "(which only prints), then add --force to replace it")
    written = []
    for piece in owned:
        assert piece.path is not None
        if piece.path.exists() and piece.path.read_text(encoding="utf-8", errors="replace") == piece.text:
            continue
        try:
            write_atomically(piece.path, piece.text)
        except OSError as error:
            raise UsageError(f"cannot write {piece.path}: {error.strerror or error}") from None
        written.append(piece.path)
    return written
