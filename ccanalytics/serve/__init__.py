"""``ccanalytics serve``: the dashboard notebook under Voila, on a store or on the embedded demo.

Voila runs as a child process; this process checks the arguments and the
store first (one clear line instead of a server that fails later), and, for
the embedded demo, owns the demo store, the in-process chain and the live
traffic (``ccanalytics.demo.embedded``), since every Voila tab runs its own kernel.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ccanalytics.allocator import prompt_env
from ccanalytics.errors import CCError
from ccanalytics.net import is_loopback
from ccanalytics.settings import positive_env, refresh_interval_s

__all__ = ["NOTEBOOK", "Listen", "serve_lake", "serve_store", "voila_command"]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "dashboard.ipynb"
FLEET_NOTEBOOK = NOTEBOOK.with_name("fleet.ipynb")  # `serve --lake DIR`: the fleet page
# Our Voila template (the lab one without CDN stylesheets), found through JUPYTER_PATH.
SHARE = Path(__file__).resolve().parents[1] / "share"
# The embedded demo's stand-in for the control center's panel, served by Voila from notebooks/.
DEMO_PANEL = "voila/files/demo-panel.html"
# Kernels whose tab is gone stop refreshing (heartbeat), go idle and are culled
# (CCANALYTICS_CULL_IDLE_S overrides the idle time, for tests and tight hosts).
CULL_IDLE_S = 120


REFILL_DELAY_S = 5.0  # after a visitor takes the warm kernel, its replacement starts this much later


def voila_command(notebook: Path, host: str, port: int, cull_idle_s: int = CULL_IDLE_S) -> list[str]:
    """The Voila command line: no browser, no port hopping, no tracebacks to visitors, culling on.

    Voila runs under :mod:`ccanalytics.serve.guard` (Host, origin and token checks, the kernel cap);
    the token never appears here: it goes by the environment.

    One kernel is kept warm (preheated), so a new tab shows its cards without
    waiting for a kernel to start.  A kernel whose page stopped beating goes
    idle and is culled, even if its socket is still open (a browser asleep).
    """
    command = [
        sys.executable,
        "-m",
        "ccanalytics.serve.guard",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={host}",
        "--Voila.port_retries=0",
        "--VoilaConfiguration.show_tracebacks=False",
        # Wait for a cell's output up to a minute (nbclient's default: 4 s): on a busy host the
        # dashboard's widgets arrive late, and a page rendered without them stays blank.
        "--VoilaExecutor.iopub_timeout=60",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_s}",
        f"--MappingKernelManager.cull_interval={max(1, cull_idle_s // 4)}",
        "--MappingKernelManager.cull_connected=True",
        "--preheat_kernel=True",
        "--pool_size=1",
        # The warm kernel a visitor took is replaced 5 s later, not 1 s (Voila's default): a kernel's
        # start (seconds of CPU: Python, ipykernel, the widgets, the page) then no longer competes
        # with that visitor's browser loading the page (docs/performance.md).
        f"--VoilaKernelManager.fill_delay={REFILL_DELAY_S:g}",
        "--VoilaConfiguration.multi_kernel_manager_class=ccanalytics.serve.PoolKernelManager",
        # Kernels talk over Unix sockets: no TCP ports other local users could reach.
        "--KernelManager.transport=ipc",
        "--Voila.log_level=WARN",
        "--template=ccanalytics",
        # The embedded demo's stand-in for the control center's panel (its links must lead somewhere).
        f"--Voila.root_dir={NOTEBOOK.parent}",
        "--VoilaConfiguration.file_allowlist=.*\\.(png|jpg|gif|svg)",
        "--VoilaConfiguration.file_allowlist=demo-panel\\.html",
        # Visitors cannot switch the template or the theme (the guard refuses ?template= too).
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",
    ]
    return command


def _pool_kernel_manager() -> type:
    from jupyter_server._tz import utcnow
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    class PoolKernelManager(AsyncMappingKernelManager):
        """Voila's kernel manager base, with kernels waiting in the preheated pool counted as active.

        Voila never culls a pooled kernel, but hands it to a visitor with all the
        idle time it gathered while waiting.  Past the cull timeout, the culler
        could then shut it down between the page's request and its connection,
        and the visitor would get a dead page.  Each cull pass here first marks
        the pooled kernels active, so a kernel handed out has at least the cull
        timeout minus one cull interval to connect.
        """

        async def cull_kernels(self) -> None:
            # Voila's subclass keeps its pool (tasks whose results name the kernels) in ``_pools``.
            for pool in getattr(self, "_pools", {}).values():
                for task in list(pool):
                    if task.done() and not task.cancelled() and task.exception() is None:
                        kernel = self._kernels.get(task.result().get("kernel_id"))
                        if kernel is not None:
                            kernel.last_activity = utcnow()
            await super().cull_kernels()

    return PoolKernelManager


def __getattr__(name: str) -> type:
    # Built on first use (by the Voila process): jupyter_server takes seconds to import.
    if name == "PoolKernelManager":
        globals()[name] = manager = _pool_kernel_manager()
        return manager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_port(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CCError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


@dataclass(frozen=True)
class Listen:
    """Where and for whom ``serve`` listens: the command's options, checked by :func:`serve_store`."""

    host: str = "127.0.0.1"
    port: int = 8866
    token: str | None = None
    allow_hosts: tuple[str, ...] = ()
    max_kernels: int | None = None  # None: $CCANALYTICS_MAX_KERNELS, else by memory and cores


def _prepared(listen: Listen, db: str | None) -> tuple[dict[str, str], int]:
    """Check the options (one line each, before anything starts): the guard's environment, the cull time."""
    from ccanalytics.serve import guard
    from ccanalytics.store import open_store

    if not is_loopback(listen.host) and not listen.token:
        raise CCError(f"serving on {listen.host} lets anyone who can reach it read the dashboard: add --token")
    max_kernels = (
        listen.max_kernels
        or positive_env("CCANALYTICS_MAX_KERNELS", 0, int, "a whole number, 2 or more")
        or guard.default_max_kernels()
    )
    if max_kernels < 2:
        raise CCError(f"--max-kernels must be 2 or more (the warm kernel and one visitor), not {max_kernels}")
    if not 0 < listen.port < 65536:
        raise CCError(f"--port must be 1..65535, not {listen.port}")
    if not NOTEBOOK.is_file():
        raise CCError(f"{NOTEBOOK}: the dashboard notebook is missing (serve runs from a source checkout)")
    if db and not Path(db).is_file():
        with open_store(db):  # a missing store is the problem to report, not a busy port
            pass
    _check_port(listen.host, listen.port)
    cull_idle_s = positive_env("CCANALYTICS_CULL_IDLE_S", CULL_IDLE_S, int, "a positive whole number of seconds")
    return _guard_env(listen, max_kernels), cull_idle_s


def serve_store(db: str | None, listen: Listen) -> int:
    """Serve the dashboard of the store ``db`` (None: the embedded demo) until interrupted."""
    from ccanalytics.serve.sharing import SOCKET_ENV, share_snapshots, status_line
    from ccanalytics.store import open_store

    security, cull_idle_s = _prepared(listen, db)
    refresh_s = refresh_interval_s(os.environ.get("CCANALYTICS_REFRESH_S"))
    from ccanalytics.demo.embedded import TRAFFIC_SCALE, EmbeddedDemo

    speed = positive_env("CCANALYTICS_DEMO_SPEED", TRAFFIC_SCALE, float, "a positive number")

    with ExitStack() as stack:
        if db:
            shown = db
        else:
            from ccanalytics.chain.demochain import DemoChain

            folder = Path(tempfile.mkdtemp(prefix="ccanalytics-demo-"))
            stack.callback(shutil.rmtree, folder, True)
            chain = DemoChain.start()
            stack.callback(chain.stop)
            panel = f"http://{'localhost' if is_loopback(listen.host) else listen.host}:{listen.port}/{DEMO_PANEL}"
            demo = EmbeddedDemo(folder, chain, speed=speed, panel_url=panel).start()
            stack.callback(demo.stop)
            db, shown = str(demo.path), "the embedded demo"
        # A bad store: one line now, not a broken page later.  This process keeps the store and
        # computes the tabs' snapshots, once per refresh for all of them (ccanalytics.serve.sharing).
        store = stack.enter_context(open_store(db))
        store.snapshot(chain_wait_s=0)
        sharing = share_snapshots(store, refresh_s)
        stack.callback(sharing.close)
        signal.signal(signal.SIGUSR1, lambda *_: print(status_line(sharing), flush=True))
        page = {"CCANALYTICS_DB": str(Path(db).resolve()), SOCKET_ENV: str(sharing.path), **security}
        return _serve_page(NOTEBOOK, listen, cull_idle_s, shown, page, stack)


def _guard_env(listen: Listen, max_kernels: int) -> dict[str, str]:
    """What the Voila child's guard needs, by environment (the token never goes in argv)."""
    from ccanalytics.serve import guard

    os.environ.pop(guard.TOKEN_ENV, None)  # children get it only from here
    wildcard = listen.host in ("0.0.0.0", "::")
    hosts = [listen.host, *listen.allow_hosts]
    env = {guard.GUARD_ENV: json.dumps({"hosts": hosts, "wildcard": wildcard, "max_kernels": max_kernels})}
    if listen.token:
        env[guard.TOKEN_ENV] = listen.token  # the Voila child takes it out of its environment at start
    return env


def serve_lake(lake: str | os.PathLike[str], listen: Listen) -> int:
    """Serve the fleet page of a lake (fleet.md), computed with polars when a tab opens, until interrupted."""
    from ccanalytics.fleet import fleet_snapshot

    security, cull_idle_s = _prepared(listen, None)
    folder = Path(lake).resolve()
    fleet_snapshot(folder)  # a folder that is not a lake: one line now, not a broken page later
    with ExitStack() as stack:
        page = {"CCANALYTICS_LAKE": str(folder), **security}
        return _serve_page(FLEET_NOTEBOOK, listen, cull_idle_s, f"the fleet of {folder}", page, stack)


def _serve_page(
    notebook: Path, listen: Listen, cull_idle_s: int, shown: str, page: dict[str, str], stack: ExitStack
) -> int:
    """Run Voila on ``notebook`` with the page's environment, announce it, and wait until it ends."""
    _trust(notebook)
    jupyter_path = os.pathsep.join(p for p in (str(SHARE), os.environ.get("JUPYTER_PATH")) if p)
    env = {**os.environ, "JUPYTER_PATH": jupyter_path, **_voila_config_env(), **page}
    voila, ready = _start_voila(notebook, listen.host, listen.port, cull_idle_s, env, stack)
    stack.callback(_stop, voila)
    return _announce_and_wait(voila, ready, listen.host, listen.port, shown, listen.token)


def _start_voila(
    notebook: Path, host: str, port: int, cull_idle_s: int, env: dict[str, str], stack: ExitStack
) -> tuple[subprocess.Popen, Path]:
    """Start Voila under the guard, with the file it writes once its warm kernel has run the page."""
    from ccanalytics.serve import guard

    folder = Path(tempfile.mkdtemp(prefix="ccanalytics-ready-"))
    stack.callback(shutil.rmtree, folder, True)
    ready = folder / "ready"
    # polars' allocator returns freed pages at once in Voila's kernels too (``ccanalytics.allocator``).
    allocator = prompt_env(env)
    voila = subprocess.Popen(
        voila_command(notebook, host, port, cull_idle_s), env={**env, **allocator, guard.READY_ENV: str(ready)}
    )
    return voila, ready


def _announce_and_wait(
    voila: subprocess.Popen, ready: Path, host: str, port: int, shown: str, token: str | None
) -> int:
    """Print the URL once a visitor can be served at full speed, then run until Voila ends."""
    url = f"http://{'localhost' if is_loopback(host) else host}:{port}/"
    signal.signal(signal.SIGTERM, lambda *_: voila.terminate())
    try:
        if not _wait_ready(voila, ready):
            return voila.wait()
        print(f"ccanalytics: serving {shown} at {url}" + (f"?token={token}" if token else ""), flush=True)
        return voila.wait()
    except KeyboardInterrupt:
        return 0


def _wait_ready(voila: subprocess.Popen, ready: Path) -> bool:
    """Wait (bounded) until the warm kernel is ready, so the URL is announced only then; False if Voila died."""
    import time

    from ccanalytics.serve import guard

    deadline = time.monotonic() + guard.READY_WAIT_S + 30
    while not ready.exists() and voila.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return voila.poll() is None


def _voila_config_env() -> dict[str, str]:
    """Our Voila config first on JUPYTER_CONFIG_PATH (share/config/voila.json).

    It sets the kernel websockets' ping timeout to three ping intervals, said
    outright: equal to the interval, a ping timer a few ms late closes a tab's
    websocket (docs/decisions.md). A dict on Voila's command line would be a
    deprecated form.
    """
    paths = (str(SHARE / "config"), os.environ.get("JUPYTER_CONFIG_PATH"))
    return {"JUPYTER_CONFIG_PATH": os.pathsep.join(p for p in paths if p)}


def _trust(notebook: Path) -> None:
    """Mark our own notebook trusted, as `jupyter trust` does, so Voila does not warn about it."""
    import nbformat
    from nbformat.sign import NotebookNotary

    try:
        NotebookNotary().sign(nbformat.read(notebook, as_version=4))
    except Exception:  # a read-only home, say: Voila then only warns
        return


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
