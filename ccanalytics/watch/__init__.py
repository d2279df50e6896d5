"""``ccanalytics watch``: evaluate the alert rules every interval and deliver their transitions.

A rule whose level asks for delivery (``email``, ``webhook``,
``email+webhook``) is delivered when it starts firing, when it resolves, and
every ``alert_repeat_ms`` while it stays firing (a reminder).  What the
watcher knows — which rules fire, since when, when each was last delivered,
which deliveries are still under way — lives in a state file written
atomically after every change, so a restart neither repeats a delivery nor
misses a transition: a rule that fires and that the file does not know is
delivered once, a rule the file says fires and that no longer does is
delivered as resolved, and deliveries a crash left decided but not begun
are sent (one already begun may have arrived: it is never sent twice).

Deliveries run on worker threads, each within its 30 s budget, so the
evaluation never waits for an endpoint.  A delivery that fails every try is
logged and the rule is delivered again at its next transition or reminder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccanalytics.settings import parse_settings
from ccanalytics.units import iso_utc, now_ms
from ccanalytics.watch.delivery import DeliveryError, mask_url, post_webhook, send_email

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ccanalytics.metrics.alerts import Alert
    from ccanalytics.settings import Settings
    from ccanalytics.store.store import Store

__all__ = ["Transition", "Watcher", "decide", "default_state_path"]

CHANNELS = {"off": (), "panel": (), "email": ("email",), "webhook": ("webhook",), "email+webhook": ("email", "webhook")}
_TITLES = {"firing": "FIRING", "resolved": "RESOLVED", "reminder": "STILL FIRING"}


@dataclass(frozen=True)
class Transition:
    """One delivery to make: a rule's ``state`` (``firing``, ``resolved``, ``reminder``) at ``at_ms``."""

    rule: str
    state: str
    at_ms: int
    value: str | int | None
    threshold: str | int | None
    message: str
    channels: tuple[str, ...]

    def text(self, store: str) -> str:
        return f"{_TITLES[self.state]} {self.rule}: {self.message} ({Path(store).name})"

    def payload(self, store: str) -> dict[str, Any]:
        return {
            "text": self.text(store),
            "rule": self.rule,
            "state": self.state,
            "value": self.value,
            "threshold": self.threshold,
            "at": iso_utc(self.at_ms),
            "store": store,
            "message": self.message,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "state": self.state,
            "at_ms": self.at_ms,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "channels": list(self.channels),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Transition:
        return cls(
            rule=str(raw["rule"]),
            state=str(raw["state"]),
            at_ms=int(raw["at_ms"]),
            value=raw.get("value"),
            threshold=raw.get("threshold"),
            message=str(raw.get("message", "")),
            channels=tuple(str(c) for c in raw.get("channels", ())),
        )


def decide(
    alerts: Iterable[Alert], known: dict[str, dict[str, Any]], now: int, repeat_ms: int
) -> tuple[list[Transition], dict[str, dict[str, Any]]]:
    """The transitions to deliver at ``now`` and what to remember, from what was remembered.

    ``known`` maps a rule to ``{"firing": bool, "since": ms, "last": ms}``
    (``last``: when it was last delivered).  A rule whose level delivers
    nowhere is forgotten, so that once its level asks for delivery, a firing
    rule is delivered at once.

    Examples
    --------
    >>> from ccanalytics.metrics.alerts import Alert
    >>> fire = Alert("low_usdc", True, "webhook", "0.5", "1.0", "Low USDC")
    >>> out, known = decide([fire], {}, now=0, repeat_ms=10)
    >>> [(t.rule, t.state) for t in out], known
    ([('low_usdc', 'firing')], {'low_usdc': {'firing': True, 'since': 0, 'last': 0}})
    >>> [[t.state for t in decide([fire], known, now=n, repeat_ms=10)[0]] for n in (9, 10)]
    [[], ['reminder']]
    >>> calm = Alert("low_usdc", False, "webhook", "5.0", "1.0", "USDC fine")
    >>> [t.state for t in decide([calm], known, now=11, repeat_ms=10)[0]]
    ['resolved']
    """
    transitions: list[Transition] = []
    remembered: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        channels = CHANNELS.get(alert.level, ())
        if not channels:
            continue
        before = known.get(alert.rule)
        was_firing = bool(before and before.get("firing"))
        state = None
        entry = dict(before) if before else {"firing": False, "since": None, "last": None}
        if alert.firing and not was_firing:
            state, entry = "firing", {"firing": True, "since": now, "last": now}
        elif alert.firing and now - _last_delivery(entry, now) >= repeat_ms:
            state, entry = "reminder", {**entry, "last": now}
        elif not alert.firing and was_firing:
            state, entry = "resolved", {"firing": False, "since": now, "last": now}
        if state is not None:
            transitions.append(
                Transition(alert.rule, state, now, alert.value, alert.threshold, alert.message, channels)
            )
        remembered[alert.rule] = entry
    return transitions, remembered


def _last_delivery(entry: dict[str, Any], now: int) -> int:
    for key in ("last", "since"):
        if isinstance(entry.get(key), int):
            return int(entry[key])
    return now


def default_state_path(db: str | os.PathLike[str]) -> Path:
    """Where the state of a store's watcher is kept by default: the user's state directory.

    Never next to the store: the store's folder belongs to the control center.
    """
    root = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(str(Path(db).absolute()).encode()).hexdigest()[:16]
    return root / "ccanalytics" / f"watch-{Path(db).stem}-{digest}.json"


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that the file is always either the old state or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    try:
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


class Watcher:
    """Evaluates a store's rules and delivers their transitions; the state is kept in ``state_path``."""

    def __init__(
        self,
        store: Store,
        state_path: Path,
        *,
        log: Callable[[str], None],
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.state_path = state_path
        self._log = log
        self._clock = clock
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ccanalytics-deliver")
        self._futures: set[Any] = set()
        self._rules: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, dict[str, Any]] = {}  # delivery id -> what it delivers
        self._next_id = 0
        self._load()

    # -- the state file -------------------------------------------------------

    def _load(self) -> None:
        try:
            raw = json.loads(self.state_path.read_text(encoding="utf-8"))
            rules = {str(k): dict(v) for k, v in raw.get("rules", {}).items()}
            pending = {str(k): dict(v) for k, v in raw.get("pending", {}).items()}
            for item in pending.values():
                Transition.from_dict(item["transition"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            self._log(f"state file {self.state_path} is unreadable: starting afresh")
            return
        self._rules, self._pending = rules, pending
        self._next_id = 1 + max((int(k) for k in pending if k.isdigit()), default=-1)

    def _save(self) -> None:
        # Under self._lock.
        data = {"store": str(self.store.path), "rules": self._rules, "pending": self._pending}
        try:
            _write_atomically(self.state_path, data)
        except OSError as exc:
            self._log(f"cannot write the state file {self.state_path}: {exc.strerror or exc}")

    # -- evaluating -------------------------------------------------------------

    def settings(self) -> Settings:
        pairs = dict(self.store.settings.collect().rows())
        return parse_settings(pairs)[0]

    def evaluate(self) -> list[Transition]:
        """One evaluation: the transitions found are remembered and their deliveries started."""
        now = self._clock()
        snapshot = self.store.snapshot(now=now, events=0)
        settings = self.settings()
        with self._lock:
            transitions, self._rules = decide(snapshot.alerts, self._rules, now, settings.alert_repeat_ms)
            started = []
            for transition in transitions:
                for channel in transition.channels:
                    key = str(self._next_id)
                    self._next_id += 1
                    self._pending[key] = {"channel": channel, "transition": transition.to_dict()}
                    started.append(key)
            self._save()
        for key in started:
            self._start(key, settings)
        return transitions

    def resume(self) -> None:
        """Send the deliveries a previous run decided but had not begun (it was killed first).

        A delivery it had begun may have arrived: it is not sent again (never
        twice), and the log says so.
        """
        if not self._pending:
            return
        settings = self.settings()
        with self._lock:
            begun = {k: v for k, v in self._pending.items() if v.get("begun")}
            for key, item in begun.items():
                transition = Transition.from_dict(item["transition"])
                self._log(
                    f"{transition.state} {transition.rule} by {item['channel']} was under way when the watcher "
                    "stopped: not sent again (it may have arrived)"
                )
                del self._pending[key]
            keys = list(self._pending)
            self._save()
        if keys:
            self._log(f"sending {len(keys)} delivery(ies) decided before the watcher stopped")
        for key in keys:
            self._start(key, settings)

    def _start(self, key: str, settings: Settings) -> None:
        future = self._pool.submit(self._deliver, key, settings)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Any) -> None:
        with self._lock:
            self._futures.discard(future)

    def _deliver(self, key: str, settings: Settings) -> None:
        with self._lock:
            item = self._pending.get(key)
        if item is None:
            return
        channel, transition = item["channel"], Transition.from_dict(item["transition"])
        store = str(self.store.path)
        what = f"{transition.state} {transition.rule} by {channel}"
        with self._lock:  # from here on, a restart cannot know whether it arrived
            item["begun"] = True
            self._save()
        try:
            if channel == "webhook":
                if not settings.alert_webhook_url:
                    raise DeliveryError("alert_webhook_url is not set")
                tries = post_webhook(settings.alert_webhook_url, transition.payload(store))
                where = mask_url(settings.alert_webhook_url)
            else:
                if not settings.alert_smtp_url or not settings.alert_email_to:
                    raise DeliveryError("alert_smtp_url and alert_email_to must both be set")
                body = _email_body(transition, store)
                tries = send_email(settings.alert_smtp_url, settings.alert_email_to, transition.text(store), body)
                where = f"{settings.alert_email_to} via {mask_url(settings.alert_smtp_url)}"
            self._log(f"delivered {what} to {where}" + (f" (after {tries} tries)" if tries > 1 else ""))
        except DeliveryError as exc:
            self._log(f"could not deliver {what}: {exc}; it is tried again at the rule's next transition or reminder")
        except Exception as exc:  # never let a delivery take the watcher down
            self._log(f"could not deliver {what}: {type(exc).__name__}")
        with self._lock:
            self._pending.pop(key, None)
            self._save()

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for the deliveries under way (each ends within its 30 s budget)."""
        with self._lock:
            futures = list(self._futures)
        for future in futures:
            with contextlib.suppress(Exception):
                future.result(timeout=timeout_s)

    def close(self) -> None:
        self.wait()
        self._pool.shutdown(wait=True)


def _email_body(transition: Transition, store: str) -> str:
    return "\n".join(
        [
            transition.text(store),
            "",
            f"rule:      {transition.rule}",
            f"state:     {transition.state}",
            f"value:     {transition.value}",
            f"threshold: {transition.threshold}",
            f"at:        {iso_utc(transition.at_ms)}",
            f"store:     {store}",
        ]
    )
