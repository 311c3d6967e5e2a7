"""Ordered parallel map over forked workers (bottom layer, stdlib only).

Readers, writers and the renderer hand it jobs over data they already hold: forked children see
that data as it is (no pickling of inputs). Job indexes wait in a pipe; whoever is free takes the
next one, the calling process included whenever the result it must yield next is not ready. A child
pickles each result into its own temporary file (it never waits for the parent to read) and sends a
short note saying where it is. Results come out in job order, and a child that fails or dies leaves
its jobs to the calling process, so output never depends on whether, or how, work was forked.
`collector_paused()` keeps the cyclic collector off the items that readers build.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PER_JOB = 250            # items per job: small enough to balance, large enough that pickling is cheap
MIN_ITEMS = 500          # below this, forking costs more than it saves
_PIPE_BYTES = 1 << 20    # the queue pipe's size where the system lets us set it


@contextmanager
def collector_paused():
    """Run a block with the cyclic collector off, then move what it built and kept straight to the
    oldest generation. Readers build millions of acyclic, long-lived objects: collections rescanning
    them cost ~30% of reading; switched back on plainly, the collector's next young pass walked
    every item (86 ms after 10k entries), in writers' forked children too."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():  # never thaw what the embedding program froze itself
            gc.freeze()    # every tracked object -> the permanent generation (clears the young count)
            gc.unfreeze()  # ... -> the oldest one, collected again, but only by full collections
        if enabled:
            gc.enable()


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def can_fork() -> bool:
    return hasattr(os, "fork")


def workers_for(count: int) -> int:
    """How many processes to spread `count` items over (1: stay in this process)."""
    if count < MIN_ITEMS or not can_fork():
        return 1
    return max(1, min(cores(), -(-count // PER_JOB)))


_INDEX = struct.Struct("=I")              # a job index in the queue pipe
_DONE = struct.Struct("=IIBQQ")           # job index, child rank, ok, offset and length in its result file


def _child(func: Callable, jobs: list[tuple], rank: int, queue_fd: int, done_fd: int, results) -> None:
    """In a forked child: take job indexes from the queue until it is empty; pickle each result into
    this child's own file (so a child never waits for the parent to read) and say where it is."""
    try:
        offset = 0
        while True:
            taken = os.read(queue_fd, _INDEX.size)  # one whole index: reads this small are not split
            if len(taken) < _INDEX.size:
                break
            (index,) = _INDEX.unpack(taken)
            try:
                data = pickle.dumps(func(*jobs[index]), protocol=pickle.HIGHEST_PROTOCOL)
                ok = 1
            except Exception:  # the parent redoes this job itself
                data, ok = b"", 0
            results.write(data)
            results.flush()
            os.write(done_fd, _DONE.pack(index, rank, ok, offset, len(data)))
            offset += len(data)
    finally:
        os._exit(0)  # no atexit handlers, no flushing the parent's buffers twice


def ordered_map(func: Callable, jobs: list[tuple], procs: int) -> Iterator:
    """Yield func(*job) for each job, in job order, computed by this process and procs - 1 forked
    children. Jobs are handed out one at a time from a queue (the fastest process takes the most);
    this process takes one whenever the result it must yield next is not ready yet."""
    if procs <= 1 or len(jobs) < 2 or not can_fork():
        for job in jobs:
            yield func(*job)
        return
    queue_read, queue_write = os.pipe()
    try:
        import fcntl
        fcntl.fcntl(queue_write, fcntl.F_SETPIPE_SZ, max(_PIPE_BYTES, _INDEX.size * len(jobs)))
    except (ImportError, AttributeError, OSError):
        pass
    if _INDEX.size * len(jobs) > 65536:  # more indexes than a default pipe holds: no children
        os.close(queue_read)
        os.close(queue_write)
        yield from (func(*job) for job in jobs)
        return
    os.write(queue_write, b"".join(_INDEX.pack(index) for index in range(len(jobs))))
    os.close(queue_write)  # an empty queue now reads as end of file
    done_read, done_write = os.pipe()
    files, pids = [], []
    finished = False
    try:
        for rank in range(procs - 1):
            try:
                results = tempfile.TemporaryFile()
            except OSError:
                break  # no room for results: fewer children (maybe none) do the work
            try:
                pid = os.fork()
            except OSError:
                results.close()
                break
            if pid == 0:
                os.close(done_read)
                _child(func, jobs, rank, queue_read, done_write, results)
            files.append(results)
            pids.append(pid)
        os.close(done_write)
        done_write = -1
        yield from _collect(func, jobs, queue_read, done_read, files)
        finished = True
    finally:
        for fd in (queue_read, done_read, done_write):
            if fd >= 0:
                os.close(fd)
        for results in files:
            results.close()
        for pid in pids:
            if not finished:  # the caller stopped early: the children's work is not wanted
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass  # already reaped (an embedding program's SIGCHLD handler)


def _collect(func: Callable, jobs: list[tuple], queue_fd: int, done_fd: int, files: list) -> Iterator:
    ready: dict[int, object] = {}        # finished out of order, waiting for their turn
    failed: set[int] = set()             # a child could not do these: done here
    notes = os.fdopen(os.dup(done_fd), "rb", buffering=0)
    children_alive = True
    queue_open = True
    try:
        for index in range(len(jobs)):
            while index not in ready:
                if index in failed:
                    ready[index] = func(*jobs[index])
                    break
                if queue_open:
                    taken = os.read(queue_fd, _INDEX.size)
                    if len(taken) == _INDEX.size:
                        (mine,) = _INDEX.unpack(taken)
                        ready[mine] = func(*jobs[mine])
                        _drain(notes, files, ready, failed, block=False)
                        continue
                    queue_open = False
                if children_alive:
                    children_alive = _drain(notes, files, ready, failed, block=True)
                    continue
                # every child has exited and the job was taken but never reported: a child died
                ready[index] = func(*jobs[index])
            yield ready.pop(index)
    finally:
        notes.close()


def _drain(notes, files: list, ready: dict, failed: set, *, block: bool) -> bool:
    """Read finished-job notes (waiting for one when block); False once every child has exited."""
    if not block:
        if not select.select([notes], [], [], 0)[0]:
            return True
    note = notes.read(_DONE.size)
    if len(note) < _DONE.size:
        return False  # every write end is closed
    index, rank, ok, offset, length = _DONE.unpack(note)
    if ok:
        ready[index] = pickle.loads(os.pread(files[rank].fileno(), length, offset))
    else:
        failed.add(index)
    return True


def written_slices(func: Callable, items: list, report, *args) -> Iterator[str]:
    """For consecutive slices of items, func(items, start, stop, *args) -> (text, diagnostics it
    recorded), forked when there are many items. Yields each text in order, after replaying its
    diagnostics into report and telling report how far writing has got."""
    bounds = slices(len(items))
    jobs = [(items, start, stop, *args) for start, stop in bounds]
    for (_, stop), (text, calls) in zip(bounds, ordered_map(func, jobs, workers_for(len(items))), strict=True):
        report.replay(calls)
        report.tick("writing", stop, len(items))
        yield text


def slices(count: int, per_job: int | None = None) -> list[tuple[int, int]]:
    """(start, stop) of consecutive slices of at most per_job (default PER_JOB) items covering range(count)."""
    per_job = per_job or PER_JOB
    return [(start, min(start + per_job, count)) for start in range(0, count, per_job)]
