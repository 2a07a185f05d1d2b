"""The `nginx` router: writes the split into an include, checks it with `nginx -t`, reloads.

Apply, step by step: render the include (nginx_config.py), write it atomically in place of the
old one (temporary file in the same folder, fsync, rename), run `nginx -t` with the same
-p/-c/-e flags the server runs with, and only then `nginx -s reload`. When nginx rejects the
new include the old text is put back before the error is raised, so the running server and the
file on disk keep agreeing on the old split.

Read: with option status_url (a location from `server_snippet()` returning `$rollout_split`),
the split the running workers have loaded; without it, the split in the include on disk.
Apply returns once the reload took effect (or settle_timeout passed); verify polls read() for up to settle_timeout (default 2s), because after a reload old workers
answer for up to ~0.1s; after a reload by this process it also waits until every worker from
before the reload has stopped accepting (nginx_workers.py, needs option nginx_conf); and with
status_url it also checks the include on disk, so a restart would keep the split.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rollout_cli.errors import RouterError
from rollout_cli.routers.base import RouterSplit, ensure_split_in_range, splits_match
from rollout_cli.routers.file import write_atomically
from rollout_cli.routers.nginx_config import parse_include, parse_status, render_include, status_text
from rollout_cli.routers.nginx_workers import accepting_workers, is_running, masters
from rollout_cli.routers.options import AdapterOptions

_KNOWN = (
    "config_path", "nginx_conf", "prefix", "error_log", "nginx_bin", "baseline", "candidate",
    "name", "split_key", "status_url", "settle_timeout", "timeout",
)
_EXAMPLE = (
    "{config_path: /etc/nginx/rollout/ranker.conf, nginx_conf: /etc/nginx/nginx.conf, "
    "baseline: 10.0.0.1:8080, candidate: 10.0.0.2:8080, status_url: http://127.0.0.1/_rollout/split}"
)
POLL_INTERVAL_S = 0.005


class NginxRouter:
    """Owns one include file; see the module docstring and docs/routers.md for the options."""

    def __init__(self, config_path: Path, baseline: str, candidate: str, *, nginx_conf: Path | None = None,
                 prefix: Path | None = None, error_log: Path | None = None, nginx_bin: str = "nginx",
                 name: str = "rollout", split_key: str = "${request_id}", status_url: str | None = None,
                 settle_timeout_s: float = 2.0, timeout_s: float = 10.0) -> None:
        self.config_path = config_path
        self.baseline = baseline
        self.candidate = candidate
        self.nginx_conf = nginx_conf
        self.prefix = prefix
        self.error_log = error_log
        self.nginx_bin = nginx_bin
        self.name = name
        self.split_key = split_key
        self.status_url = status_url
        self.settle_timeout_s = settle_timeout_s
        self.timeout_s = timeout_s
        # workers that served before our last reload; verify waits until none still accepts
        self._old_workers: set[int] = set()

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> NginxRouter:
        with AdapterOptions("nginx", options, known=_KNOWN, example=_EXAMPLE) as opts:

            def path(key: str) -> Path | None:
                value = opts.optional_text(key)
                return Path(value) if value else None

            name = opts.text("name", "rollout")
            if name and not name.replace("_", "").isalnum():
                opts.problem(f"option name must be letters, digits and _ (it prefixes nginx variables), not {name!r}")
            status_url = opts.optional_text("status_url")
            router = cls(
                config_path=Path(opts.text("config_path")),
                baseline=opts.address("baseline"),
                candidate=opts.address("candidate"),
                nginx_conf=path("nginx_conf"),
                prefix=path("prefix"),
                error_log=path("error_log"),
                nginx_bin=opts.text("nginx_bin", "nginx"),
                name=name,
                split_key=opts.text("split_key", "${request_id}"),
                status_url=opts.url("status_url") if status_url else None,
                settle_timeout_s=opts.seconds("settle_timeout", 2.0),
                timeout_s=opts.seconds("timeout", 10.0),
            )
        return router

    # -- nginx itself ------------------------------------------------------------------------
    def nginx_argv(self, *extra: str) -> list[str]:
        """The nginx command line with the same flags the server was started with."""
        argv = [self.nginx_bin]
        if self.prefix is not None:
            argv += ["-p", str(self.prefix)]
        if self.nginx_conf is not None:
            argv += ["-c", str(self.nginx_conf)]
        if self.error_log is not None:
            argv += ["-e", str(self.error_log)]
        return argv + list(extra)

    def _run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        argv = self.nginx_argv(*extra)
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s, check=False)
        except FileNotFoundError:
            raise RouterError(f"nginx binary {self.nginx_bin!r} not found",
                              hint="set the router option nginx_bin to the nginx executable") from None
        except subprocess.TimeoutExpired:
            raise RouterError(f"`{shlex.join(argv)}` did not finish within {self.timeout_s:g}s") from None

    def _include_text(self) -> str | None:
        try:
            return self.config_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise RouterError(f"nginx include {self.config_path} cannot be read: {error.strerror}") from None

    def _restore(self, previous: str | None) -> None:
        if previous is None:
            self.config_path.unlink(missing_ok=True)
        else:
            write_atomically(self.config_path, previous)

    def render(self, split: RouterSplit) -> str:
        return render_include(self.name, split, self.baseline, self.candidate, self.split_key)

    def split_problems(self, split: RouterSplit) -> dict[str, str]:
        """Offline: why split_clients cannot serve `split` exactly ({"traffic"|"shadow": message})."""
        from rollout_cli.routers.nginx_config import share_text

        problems = {}
        for key, share in (("traffic", split.candidate_traffic), ("shadow", split.shadow)):
            try:
                share_text(share)
            except RouterError as error:
                problems[key] = f"{error.message}; {error.hint}"
        return problems

    # -- the protocol ------------------------------------------------------------------------
    def read_include(self) -> RouterSplit:
        text = self._include_text()
        if text is None:
            raise RouterError(f"nginx include {self.config_path} does not exist",
                              hint="`rollout start` writes it; or write it by hand from the runbook's commands")
        return parse_include(text, self.name, str(self.config_path))

    def read_status(self) -> RouterSplit:
        from rollout_cli.routers.http_client import HttpFailure, call

        assert self.status_url is not None
        try:
            status, body = call("GET", self.status_url, retries=1, timeout_s=min(self.timeout_s, 2.0))
        except HttpFailure as failure:
            raise RouterError(f"nginx status {self.status_url} is not answering ({failure})",
                              hint="check nginx is running with the plan's config: "
                                   + shlex.join(self.nginx_argv())) from None
        text = body.decode(errors="replace")
        if status != 200:
            raise RouterError(f"nginx status {self.status_url} answered HTTP {status}",
                              hint="the status location must `return 200 \"$rollout_split\\n\";`")
        split = parse_status(text)
        if split is None:
            raise RouterError(f"nginx status {self.status_url} answered {text[:100]!r}, not a split",
                              hint="the status location must `return 200 \"$rollout_split\\n\";`")
        return split

    def read(self) -> RouterSplit:
        # Checked with a status_url too: another nginx answering on that port is not this router.
        if self.nginx_conf is not None and is_running(self.nginx_conf) is False:
            raise RouterError(f"no nginx master process runs with {self.nginx_conf}"
                              + (f" (so whatever answers {self.status_url} is not this router)" if self.status_url else ""),
                              hint="start nginx: " + shlex.join(self.nginx_argv()))
        if self.status_url:
            return self.read_status()
        return self.read_include()

    def apply(self, split: RouterSplit) -> None:
        ensure_split_in_range(split)
        wanted = self.render(split)
        previous = self._include_text()
        if previous == wanted and self.status_url and splits_match(self.read_status(), split):
            return  # already on disk and loaded
        if previous != wanted:
            try:
                write_atomically(self.config_path, wanted)
            except OSError as error:
                raise RouterError(f"cannot write nginx include {self.config_path}: {error.strerror or error}") from None
            check = self._run("-t")
            if check.returncode != 0:
                try:
                    self._restore(previous)
                except OSError as error:
                    raise RouterError(
                        f"nginx rejected the new include {self.config_path} and the previous one could not be "
                        f"put back ({error.strerror or error}); nginx still serves the old one until its next "
                        f"reload: {_last_lines(check.stderr)}",
                        hint="restore the include by hand before anything reloads nginx",
                    ) from None
                raise RouterError(
                    f"nginx rejected the new include {self.config_path}; the previous one is back in place "
                    f"and nginx keeps serving it: {_last_lines(check.stderr)}",
                    hint="fix the router options (backend addresses) or the nginx config, then apply again",
                )
        self._old_workers = accepting_workers(masters(self.nginx_conf)) if self.nginx_conf else set()
        reload = self._run("-s", "reload")
        if reload.returncode != 0:
            raise RouterError(
                f"nginx did not reload: {_last_lines(reload.stderr)}; the include holds {split} but the "
                "running nginx may not have loaded it",
                hint="start nginx or reload it by hand: " + shlex.join(self.nginx_argv("-s", "reload")),
            )
        # A reload is asynchronous: wait (bounded) until it took effect, so that on return the
        # router serves `split`. Not reaching it is left for verify() to report.
        self._settled(split)

    def verify(self, split: RouterSplit) -> bool:
        if self.status_url and not splits_match(self.read_include(), split):
            return False
        return self._settled(split)

    def _settled(self, split: RouterSplit) -> bool:
        """Poll until nginx serves `split` and no pre-reload worker accepts, within settle_timeout."""
        deadline = time.monotonic() + self.settle_timeout_s
        while True:
            if splits_match(self.read(), split) and not self._old_workers_accepting():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL_S)

    def _old_workers_accepting(self) -> bool:
        if not self._old_workers:
            return False
        self._old_workers &= accepting_workers(masters(self.nginx_conf))
        return bool(self._old_workers)

    def explain(self, split: RouterSplit) -> list[str]:
        path = shlex.quote(str(self.config_path))
        lines = [
            f"cp {path} {path}.previous",
            f"cat > {path}.new <<'EOF'\n{self.render(split)}EOF",
            f"mv {path}.new {path}",
            f"{shlex.join(self.nginx_argv('-t'))} || mv {path}.previous {path}",
            shlex.join(self.nginx_argv("-s", "reload")),
        ]
        expect = f"# expect {status_text(split)}"
        if self.status_url:
            lines.append(f"curl -fsS {shlex.quote(self.status_url)}  {expect}")
        else:
            lines.append(f"grep -A3 split_clients {path}  {expect}")
        return lines


def _last_lines(stderr: str, count: int = 3) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(no message)"
