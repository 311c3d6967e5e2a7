"""Ordered parallel map over forked workers (bottom layer, stdlib only).

Readers and writers hand it jobs over data they already hold: forked children see that data as it
is (no pickling of inputs); only results travel back, through pipes, one job at a time. Results
come out in job order, and a child that fails leaves its jobs to the calling process, so output
never depends on whether, or how, work was forked.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterator

PER_JOB = 1_000          # items per job: large enough that a job's pickle costs little beside its work
MIN_ITEMS = 2_000        # below this, forking costs more than it saves
_PIPE_BYTES = 1 << 20    # room for about one job's result, so a child can run a job ahead


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


def _child(func: Callable, jobs: list[tuple], write_fd: int) -> None:
    """In a forked child: pickle (ok, func(*job)) for each job into the pipe, then exit."""
    try:
        with os.fdopen(write_fd, "wb") as pipe:
            for job in jobs:
                try:
                    payload = (True, func(*job))
                except Exception:  # the parent redoes this job itself
                    payload = (False, None)
                pickle.dump(payload, pipe, protocol=pickle.HIGHEST_PROTOCOL)
                pipe.flush()
    finally:
        os._exit(0)  # no atexit handlers, no flushing the parent's buffers twice


def ordered_map(func: Callable, jobs: list[tuple], procs: int, local_every: int | None = None) -> Iterator:
    """Yield func(*job) for each job in order. Jobs whose index is a multiple of local_every
    (default procs) run in this process, the others round-robin in procs - 1 forked children."""
    if procs <= 1 or len(jobs) < 2 or not can_fork():
        for job in jobs:
            yield func(*job)
        return
    local_every = local_every or procs
    remote = [index for index in range(len(jobs)) if index % local_every]
    owner = {index: position % (procs - 1) for position, index in enumerate(remote)}
    children = []  # [pid, reader] per child; reader None once it is unusable
    try:
        for rank in range(procs - 1):
            mine = [jobs[index] for index in remote if owner[index] == rank]
            read_fd, write_fd = os.pipe()
            try:
                import fcntl
                fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
            except (ImportError, AttributeError, OSError):
                pass  # a smaller pipe only makes the child wait more
            try:
                pid = os.fork()
            except OSError:
                os.close(read_fd)
                os.close(write_fd)
                children.append([None, None])
                continue
            if pid == 0:
                os.close(read_fd)
                _child(func, mine, write_fd)
            os.close(write_fd)
            children.append([pid, os.fdopen(read_fd, "rb")])
        for index, job in enumerate(jobs):
            child = children[owner[index]] if index in owner else None
            if child and child[1] is not None:
                try:
                    ok, result = pickle.load(child[1])
                except Exception:  # the child died: its remaining jobs run here
                    child[1].close()
                    child[1] = None
                    ok = False
                if ok:
                    yield result
                    continue
            yield func(*job)
    finally:
        for pid, reader in children:
            if reader is not None:
                reader.close()
            if pid is not None:
                os.waitpid(pid, 0)


def slices(count: int, per_job: int | None = None) -> list[tuple[int, int]]:
    """(start, stop) of consecutive slices of at most per_job (default PER_JOB) items covering range(count)."""
    per_job = per_job or PER_JOB
    return [(start, min(start + per_job, count)) for start in range(0, count, per_job)]
