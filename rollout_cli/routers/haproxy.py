"""The `haproxy` router: server weights through the runtime API on the admin UNIX socket.

Choices:
- the split is the ratio of two servers' weights in one backend (round robin or any weighted
  balance): candidate share = w_candidate / (w_candidate + w_baseline). HAProxy weights run
  0..256, so the adapter picks the smallest integer pair with exactly the requested ratio
  (10% -> 1:9, 2.5% -> 1:39, 0.5% -> 1:199, 100% -> 1:0). A share with no exact pair within
  0..256 (e.g. 0.1%, 33.33%) is refused with the nearest shares that work; weight 0 means "no
  new requests", which HAProxy accepts at runtime.
- after every change the adapter dumps `show servers state` into the server-state file
  (option state_file, which the config names in `server-state-file` with
  `load-server-state-from-file global`) so a reload keeps the weights: HAProxy never writes
  that file itself.
- shadow: HAProxy has no request mirroring. Without option shadow_file, a shadow share above 0
  is refused with a RouterError that says so (read() reports shadow 0: HAProxy mirrors
  nothing). With shadow_file, the shadow share is kept in that JSON file ({"shadow": 100.0},
  written atomically, other keys kept) for a mirror outside HAProxy to follow (the serving
  application, a sidecar, a replay tool); read() and verify() take the shadow share from it,
  and a missing file means 0 (nobody was ever told to mirror).
"""

from __future__ import annotations

import json
import math
import shlex
import socket
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from rollout_cli.errors import RouterError
from rollout_cli.routers.base import RouterSplit, ensure_split_in_range, splits_match
from rollout_cli.routers.file import write_atomically
from rollout_cli.routers.options import AdapterOptions

MAX_WEIGHT = 256
_EXAMPLE = (
    "{socket: /run/haproxy/admin.sock, backend: ranker, baseline_server: v41, candidate_server: v42, "
    "state_file: /var/lib/haproxy/server-state}"
)
from rollout_cli.units import format_share


def weights_for(share: float) -> tuple[int, int]:
    """(candidate, baseline) weights with exactly `share` percent for the candidate."""
    ratio = Fraction(str(share)) / 100
    if ratio.denominator <= MAX_WEIGHT and ratio.denominator - ratio.numerator <= MAX_WEIGHT:
        return ratio.numerator, ratio.denominator - ratio.numerator
    near = sorted({n for n in (math.floor(share * 2) / 2, math.ceil(share * 2) / 2) if n > 0})
    raise RouterError(
        f"HAProxy weights (0..{MAX_WEIGHT}) cannot serve exactly {format_share(share)} to the candidate",
        hint=f"use {' or '.join(format_share(n) for n in near)} (whole and half percents always work)",
    )


class HAProxyRouter:
    """Options: {socket, backend, baseline_server, candidate_server, state_file?, timeout?, shadow_file?}."""

    def __init__(
        self,
        socket_path: Path,
        backend: str,
        baseline_server: str,
        candidate_server: str,
        state_file: Path | None = None,
        timeout_s: float = 2.0,
        shadow_file: Path | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.backend = backend
        self.baseline_server = baseline_server
        self.candidate_server = candidate_server
        self.state_file = state_file
        self.timeout_s = timeout_s
        self.shadow_file = shadow_file

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HAProxyRouter:
        known = ("socket", "backend", "baseline_server", "candidate_server", "state_file", "timeout", "shadow_file")
        with AdapterOptions("haproxy", options, known=known, example=_EXAMPLE) as opts:
            state_file, shadow_file = opts.optional_text("state_file"), opts.optional_text("shadow_file")
            router = cls(
                socket_path=Path(opts.text("socket")),
                backend=opts.text("backend"),
                baseline_server=opts.text("baseline_server"),
                candidate_server=opts.text("candidate_server"),
                state_file=Path(state_file) if state_file else None,
                timeout_s=opts.seconds("timeout", 2.0),
                shadow_file=Path(shadow_file) if shadow_file else None,
            )
        return router

    # -- the runtime API ---------------------------------------------------------------------
    def command(self, line: str) -> str:
        """Send one command line (commands separated by ';') and return HAProxy's answer."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(self.timeout_s)
                conn.connect(str(self.socket_path))
                conn.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := conn.recv(65536):  # non-interactive mode: HAProxy closes after answering
                    chunks.append(chunk)
        except (FileNotFoundError, ConnectionRefusedError) as error:
            raise RouterError(
                f"HAProxy admin socket {self.socket_path} is not answering ({error.strerror})",
                hint="check HAProxy runs with `stats socket "
                f"{self.socket_path} mode 600 level admin` in its global section",
            ) from None
        except TimeoutError:
            raise RouterError(f"HAProxy admin socket {self.socket_path} did not answer within {self.timeout_s:g}s") from None
        except OSError as error:
            raise RouterError(f"HAProxy admin socket {self.socket_path}: {error.strerror or error}") from None
        return b"".join(chunks).decode(errors="replace")

    def weights(self) -> tuple[int, int]:
        """(candidate, baseline) runtime weights, read in one round trip."""
        servers = (self.candidate_server, self.baseline_server)
        line = "; ".join(f"get weight {self.backend}/{srv}" for srv in servers)
        answers = [a.strip() for a in self.command(line).strip().split("\n\n")]
        weights = []
        for server, answer in zip(servers, answers + [""] * 2):
            first = answer.split(" ", 1)[0]
            if not first.isdigit():
                raise RouterError(
                    f"HAProxy answered {answer!r} to `get weight {self.backend}/{server}`",
                    hint="check the backend and server names in the plan's router options",
                )
            weights.append(int(first))
        return weights[0], weights[1]

    def set_weights_line(self, candidate: int, baseline: int) -> str:
        """The runtime command for a pair of weights. The baseline goes first when it holds the
        larger weight, so a change never passes through 0:0 (nobody served) on the way."""
        sets = [(self.candidate_server, candidate), (self.baseline_server, baseline)]
        if baseline >= candidate:
            sets.reverse()
        return "; ".join(f"set server {self.backend}/{srv} weight {w}" for srv, w in sets)

    def split_problems(self, split: RouterSplit) -> dict[str, str]:
        """Offline: why this router cannot serve `split` exactly ({"traffic"|"shadow": message})."""
        problems = {}
        try:
            weights_for(split.candidate_traffic)
        except RouterError as error:
            problems["traffic"] = f"{error.message}; {error.hint}"
        if split.shadow > 0 and self.shadow_file is None:
            problems["shadow"] = (f"a shadow share ({format_share(split.shadow)}) on HAProxy needs the router option "
                                  "shadow_file (HAProxy cannot mirror; an outside mirror follows that file)")
        return problems

    # -- the protocol ------------------------------------------------------------------------
    def read(self) -> RouterSplit:
        candidate, baseline = self.weights()
        if candidate + baseline == 0:
            raise RouterError(
                f"both {self.backend}/{self.baseline_server} and {self.backend}/{self.candidate_server} "
                "have weight 0: the backend serves nobody",
                hint=f"set the baseline's weight: {self.explain(RouterSplit(0.0, 0.0))[0]}",
            )
        return RouterSplit(candidate_traffic=100.0 * candidate / (candidate + baseline), shadow=self._read_shadow())

    def _shadow_document(self) -> dict[str, Any]:
        assert self.shadow_file is not None
        try:
            document = json.loads(self.shadow_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise RouterError(f"shadow file {self.shadow_file} cannot be read: {error}",
                              hint=f'write {{"shadow": 0.0}} into {self.shadow_file}') from None
        if not isinstance(document, dict):
            raise RouterError(f"shadow file {self.shadow_file} holds no JSON object")
        return document

    def _read_shadow(self) -> float:
        if self.shadow_file is None:
            return 0.0
        value = self._shadow_document().get("shadow", 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise RouterError(f"shadow file {self.shadow_file}: shadow {value!r} is not a percentage 0..100")
        return float(value)

    def _apply_shadow(self, share: float) -> None:
        if self.shadow_file is None:
            if share > 0:
                raise RouterError(
                    f"HAProxy cannot mirror requests, so it cannot apply a shadow share of {format_share(share)}",
                    hint="mirror outside HAProxy and name the file it follows in the router option shadow_file, "
                    "or use the nginx router for shadow stages",
                )
            return
        document = self._shadow_document()
        if document.get("shadow") == share:
            return
        document["shadow"] = float(share)
        try:
            write_atomically(self.shadow_file, json.dumps(document, indent=2) + "\n")
        except OSError as error:
            raise RouterError(f"cannot write shadow file {self.shadow_file}: {error.strerror or error}") from None

    def apply(self, split: RouterSplit) -> None:
        ensure_split_in_range(split)
        candidate, baseline = weights_for(split.candidate_traffic)
        if self.shadow_file is None:
            self._apply_shadow(split.shadow)  # refuses before any weight moves
        if self.weights() != (candidate, baseline):
            line = self.set_weights_line(candidate, baseline)
            answer = self.command(line).strip()
            if answer:  # success is silent; anything else is HAProxy refusing
                raise RouterError(f"HAProxy refused `{line}`: {answer}")
        self.save_state()
        self._apply_shadow(split.shadow)

    def save_state(self) -> None:
        """Dump every server's runtime state to the server-state file so a reload keeps it."""
        if self.state_file is None:
            return
        state = self.command("show servers state")
        if not state.startswith("1\n"):
            raise RouterError(f"HAProxy answered {state[:200]!r} to `show servers state`")
        try:
            write_atomically(self.state_file, state)
        except OSError as error:
            raise RouterError(
                f"cannot write the HAProxy server-state file {self.state_file}: {error.strerror or error}",
                hint="the weights are live but a reload would lose them; fix the file's folder, then apply again",
            ) from None

    def verify(self, split: RouterSplit) -> bool:
        return splits_match(self.read(), split)

    def explain(self, split: RouterSplit) -> list[str]:
        candidate, baseline = weights_for(split.candidate_traffic)
        sock = f"unix-connect:{shlex.quote(str(self.socket_path))}"
        lines = [
            f'echo "{self.set_weights_line(candidate, baseline)}" | socat stdio {sock}',
            (f'echo "get weight {self.backend}/{self.candidate_server}; get weight {self.backend}/'
            f'{self.baseline_server}" | socat stdio {sock}  # expect {candidate} then {baseline}'),
        ]
        if self.state_file is not None:
            state = shlex.quote(str(self.state_file))
            lines.append(f'echo "show servers state" | socat stdio {sock} > {state}.tmp && mv {state}.tmp {state}')
        if self.shadow_file is not None:
            path = shlex.quote(str(self.shadow_file))
            script = ("import json,os,sys; p=sys.argv[1]; d=json.load(open(p)) if os.path.exists(p) else {}; "
                      f"d['shadow']={float(split.shadow)!r}; open(p+'.tmp','w').write(json.dumps(d)); os.replace(p+'.tmp',p)")
            lines.append(f"python3 -c {shlex.quote(script)} {path}  # the share the external mirror follows")
        return lines
