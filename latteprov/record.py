"""Recording runs from job scripts: a context manager for the run, functions for planned work.

::

    with latteprov.run("solve", code_version="lalibe-1.2", inputs=[cfg_uid, action_uid]) as r:
        prop = r.output("OneToAll", name=stem, inputs={"gauge": cfg_uid, "action": action_uid}, **key)
        ...                                   # the job's payload
        r.file(prop, f"/scratch/{stem}.lime")

The run (host, user, times, exit state) and its inputs are written in one transaction when the
block starts, its outputs, files and edges in one more when it ends; an exception marks the run
and its outputs failed and propagates, and so does SIGTERM (a batch system's wall-clock limit or
``scancel``), which raises SystemExit(143) inside the block. A job killed outright (SIGKILL, a
lost node) leaves an online run ``running``; an offline one is marked failed by ``latteprov sync``.
Every write goes through :mod:`latteprov.graph`, so the consistency checks and the cycle check
apply. When Neo4j cannot be reached (or with ``offline=True``) the same batches are appended to
a local spool (:mod:`latteprov.spool`) that ``latteprov sync`` replays later.
"""
from __future__ import annotations

import getpass
import shlex
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from latteprov import checks, graph, model, queries, tally
from latteprov.config import load_settings
from latteprov.errors import InputError, NotFound
from latteprov.graph import GraphBatch
from latteprov.spool import SpoolWriter
from latteprov.store import Store, StoreUnavailable

# An input: a uid, or an entity row from graph.entity (written along with the run).
InputRef = str | dict


def agent() -> tuple[str, str]:
    """This machine's name and the user running the job (PROV agent)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no USER/LOGNAME: containers, some batch systems
        user = "unknown"
    return socket.gethostname(), user


def new_run_uid() -> str:
    """A fresh run uid, shaped like every other uid."""
    return f"Run:{uuid.uuid4().hex[:20]}"


def _add_input(batch: GraphBatch, item: InputRef) -> str:
    """Put ``item`` into ``batch`` if it is a row; return the uid (or name) it stands for."""
    if isinstance(item, dict):
        if "uid" not in item or "props" not in item:
            raise InputError(f"an input is a uid or a row from graph.entity(), not {item!r}")
        batch.entities.append(item)
        return item["uid"]
    if not isinstance(item, str) or not item:
        raise InputError(f"an input is a uid or a row from graph.entity(), not {item!r}")
    return item


def _derivations(batch: GraphBatch, product: str, inputs: Mapping[str, InputRef | Iterable[InputRef]] | None) -> list[str]:
    """DERIVED_FROM edges of ``product`` to its inputs by role; the input uids."""
    uids = []
    for role, refs in (inputs or {}).items():
        for ref in ([refs] if isinstance(refs, (str, dict)) else refs):
            uid = _add_input(batch, ref)
            batch.link(product, uid, role)
            uids.append(uid)
    return uids


class Recorder:
    """The run being recorded: declare what it used and produced, and the files."""

    def __init__(self, row: dict, sink: "_Sink") -> None:
        self.uid: str = row["uid"]
        self.state = "running"
        self._row = row
        self._sink = sink
        self._outputs: set[str] = set()
        self._pending = GraphBatch()
        self._files: list[tuple[str, str, dict]] = []

    def used(self, item: InputRef) -> str:
        """Declare an input of the run (a uid, or an entity row to record with it); return its uid."""
        batch = GraphBatch()
        uid = _add_input(batch, item)
        batch.link(self.uid, uid, type="USED")
        self._sink.progress("used", batch)
        self._pending.extend(batch)
        return uid

    def output(self, kind: str, name: str | None = None,
               inputs: Mapping[str, InputRef | Iterable[InputRef]] | None = None, **props: Any) -> str:
        """Declare a product this run generates (state running until the run ends); ``inputs``
        maps DERIVED_FROM roles to uids (or lists of them), which the run is recorded to have used."""
        batch = GraphBatch()
        uid = batch.add(kind, name=name, state="running", **props)
        self._outputs.add(uid)
        for used in dict.fromkeys(_derivations(batch, uid, inputs)):
            if used not in self._outputs:  # a run does not "use" what it made itself
                batch.link(self.uid, used, type="USED")
        batch.link(uid, self.uid, type="GENERATED_BY")
        self._sink.progress("output", batch)
        self._pending.extend(batch)
        return uid

    def file(self, product_uid: str, path: str | Path, host: str = "", dataset: str = "", **props: Any) -> str:
        """Declare a file of a product; size, mtime and status are read when the run ends."""
        self._files.append((product_uid, str(path), {"host": host, "dataset": dataset, **props}))
        return graph.file_uid(str(path), host, dataset)

    def final_batch(self, state: str) -> GraphBatch:
        """Everything the run declared, with its end time and ``state`` on it and its outputs."""
        batch = GraphBatch(runs=[{**self._row, "mutable": {"ended_at": graph.now(), "exit_state": state}}])
        batch.extend(self._pending)
        batch.entities = [{**row, "state": state} if row["uid"] in self._outputs else row
                          for row in batch.entities]
        for product, path, props in self._files:
            batch.add_file(product, path, **{**stat_file(path), **props})
        return batch


def stat_file(path: str) -> dict:
    """Size, mtime and status of a local file as the run leaves it."""
    checked = graph.now()
    try:
        st = Path(path).stat()
    except OSError:
        return {"status": "missing", "checked_at": checked}
    return {"size": st.st_size, "mtime": datetime.fromtimestamp(st.st_mtime, timezone.utc),
            "status": "on_disk", "checked_at": checked}


class _Sink:
    """Where a run's batches go: the graph, or a spool file once offline (asked for with
    ``mode=True``, or when the graph cannot be reached and ``mode`` is None)."""

    def __init__(self, store: Store | None, mode: bool | None, run_uid: str) -> None:
        self.store, self.mode, self.run_uid = store, mode, run_uid
        self.spool: SpoolWriter | None = None
        self.written: list[tuple[str, GraphBatch]] = []  # re-spooled if the graph goes away mid-run

    def _open_spool(self, reason: str) -> None:
        settings = self.store.settings if self.store is not None else load_settings()
        self.spool = SpoolWriter(settings.spool_dir, self.run_uid)
        print(f"latteprov: {reason}; run {self.run_uid} recorded offline in {self.spool.path}"
              " (replay it with 'latteprov sync')", file=sys.stderr)
        for event, batch in self.written:
            self.spool.append(event, batch, self.run_uid)

    def write(self, event: str, batch: GraphBatch) -> None:
        """Write one whole event: to the graph in one transaction, or to the spool."""
        if self.spool is None and self.mode is not True:
            try:
                graph.resolve_names(batch, self.store)
                graph.write(self.store, batch)
                self.written.append((event, batch))
                return
            except StoreUnavailable:
                if self.mode is False:
                    raise
                self._open_spool(f"Neo4j cannot be reached at {self.store.settings.uri}")
        elif self.spool is None:
            self._open_spool("offline")
        checks.check_batch(batch)  # what needs no graph fails in the job, not at sync
        self.spool.append(event, batch, self.run_uid)

    def progress(self, event: str, batch: GraphBatch) -> None:
        """Something declared mid-run: spooled at once offline (a killed job still names it),
        online checked now and written with the run's end."""
        if self.spool is not None or self.mode is True:
            self.write(event, batch)
        else:
            checks.check_batch(batch)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """While a run is recorded, SIGTERM raises SystemExit(143) instead of ending the process on
    the spot, so the run is written as failed rather than left ``running``: batch systems send
    SIGTERM at the wall-clock limit, on ``scancel`` or ``qdel``, seconds before SIGKILL.
    Only in the main thread, and only when nobody else handles SIGTERM."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def run(kind: str, command: str | None = None, code_version: str | None = None, job_id: str | None = None,
        params: dict | None = None, inputs: Iterable[InputRef] = (), store: Store | None = None,
        offline: bool | None = None, uid: str | None = None, name: str | None = None) -> Iterator[Recorder]:
    """Record a run of ``kind`` around the block; ``offline=None`` spools only when Neo4j cannot be
    reached, ``True`` always, ``False`` never (an unreachable database then raises).

    The run's uid is ``uid`` when given, else its natural key when ``job_id`` is given (host, job
    id and start instant: :func:`latteprov.rows.run_uid`), else random. InputError for bad
    ``params`` (NaN, infinities, integers beyond 64 bits) before anything is written."""
    own_store = store is None and offline is not True
    if own_store:
        store = Store(load_settings())
    host, user = agent()
    started = graph.now()
    if uid is None and job_id is not None and str(job_id) != "":
        uid = graph.run_uid(host=host, job_id=job_id, started_at=started)  # the natural key, as manifests use
    row = graph.run_row(uid or new_run_uid(), kind=kind, name=name, command=command or shlex.join(sys.argv),
                        code_version=code_version, host=host, user=user,
                        job_id=None if job_id is None else str(job_id), params=params,
                        started_at=started, exit_state="running")
    sink = _Sink(store, offline, row["uid"])
    start = GraphBatch(runs=[row])
    for item in inputs:
        start.link(row["uid"], _add_input(start, item), type="USED")
    try:
        sink.write("started", start)
        recorder = Recorder(row, sink)
        try:
            with _terminate_as_exit():
                yield recorder
        except BaseException as exc:
            clean_exit = isinstance(exc, SystemExit) and exc.code in (0, None)
            recorder.state = "done" if clean_exit else "failed"
            sink.write("finished", recorder.final_batch(recorder.state))
            raise
        recorder.state = "done"
        sink.write("finished", recorder.final_batch("done"))
    finally:
        sink.close()
        if own_store:
            store.close()


def declare(store: Store, kind: str, name: str | None = None, state: str = "planned",
            inputs: Mapping[str, InputRef | Iterable[InputRef]] | None = None, **props: Any) -> str:
    """Declare a product (by default planned work, before it is computed); return its uid."""
    batch = GraphBatch()
    uid = batch.add(kind, name=name, state=state, **props)
    _derivations(batch, uid, inputs)
    graph.resolve_names(batch, store)
    graph.write(store, batch)
    return uid


def set_state(store: Store, uids: Iterable[str], state: str) -> int:
    """Set the completion state of existing entities; return how many were set."""
    if state not in model.STATES:
        raise InputError(f"state {state!r} is not one of {', '.join(model.STATES)}")
    uids = list(dict.fromkeys(uids))

    def work(tx: Any) -> list[str]:
        with tally.Tracker(tx, uids):
            return tx.run(queries.get("set_state").text, uids=uids, state=state).single()["found"]

    found = store.write_tx(work)
    missing = sorted(set(uids) - set(found))
    if missing:
        raise NotFound(f"no entity with uid {', '.join(missing[:5])}" + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""))
    return len(found)
