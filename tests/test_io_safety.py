"""Output and input safety (issue 13, items 1, 2 and 4), through real processes where a shell would
see the difference: `-o` onto what is not a regular file, symlinks, signals mid-write, closed pipes
and descriptors, full disks, endless inputs, and inputs that used to read as silently empty."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bibport import api
from bibport.diagnostics import Report
from conftest import CASES, ROOT
from test_hostile import SENTINEL, run, spawn, write_big_bib

GOOD = CASES / "string-macros" / "in.bib"
BROKEN = CASES / "missing-comma" / "in.bib"
BIBPORT = f"{sys.executable} -m bibport"
GOOD_IDS = ["barham2003xen"]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (device nodes, mounts)")


def sh(script: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """A POSIX shell line, as a user types it; bibport runs from this tree (PYTHONPATH is inherited)."""
    return subprocess.run(["sh", "-c", script], cwd=ROOT, capture_output=True, timeout=timeout, **kw)


def ids(data: bytes) -> list[str]:
    return [item["id"] for item in json.loads(data)]


def folder_names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))  # dot files included: a temporary file is `.NAME.*.tmp`


@pytest.fixture(scope="module")
def clean_bib(tmp_path_factory) -> Path:
    """2,000 entries that read and write without a warning: megabytes of output, quickly."""
    path = tmp_path_factory.mktemp("clean") / "clean.bib"
    path.write_text("".join(f"@book{{k{n}, author = {{Ann Lee}}, title = {{Title {n}}}, publisher = {{P}}, "
                            f"year = {{2000}}}}\n" for n in range(2000)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def big_bib(tmp_path_factory) -> Path:
    return write_big_bib(tmp_path_factory.mktemp("big") / "big.bib")


class Reader(threading.Thread):
    """Reads a FIFO to its end, as `cat fifo` does (opening waits for a writer)."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.data = path, None

    def run(self):
        with open(self.path, "rb") as fifo:
            self.data = fifo.read()


# ------------------------------------------------------------------ 1. -o never replaces what it does not own


@needs_root
def test_device_target_is_written_through_not_replaced(tmp_path):
    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # our own /dev/null, never the real one
    result = run("convert", GOOD, "--to", "csljson", "-o", device)
    assert result.rc == 0, result.err
    assert stat.S_ISCHR(os.lstat(device).st_mode) and os.lstat(device).st_rdev == os.makedev(1, 3)
    assert folder_names(tmp_path) == ["null"]


def test_fifo_target_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = Reader(fifo)
    reader.start()
    result = run("convert", GOOD, "--to", "csljson", "-o", fifo, timeout=60)
    reader.join(timeout=30)
    assert result.rc == 0, result.err
    assert ids(reader.data) == GOOD_IDS
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert folder_names(tmp_path) == ["pipe"]


def test_failed_run_writes_nothing_into_a_fifo_and_releases_its_reader(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = Reader(fifo)
    reader.start()
    result = run("convert", BROKEN, "--to", "csljson", "-o", fifo, timeout=60)
    reader.join(timeout=30)
    assert result.rc == 1
    assert not reader.is_alive(), "the FIFO's reader was left waiting"
    assert reader.data == b""
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_symlink_chain_is_followed_and_stays_a_link(tmp_path):
    (tmp_path / "links").mkdir()
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "real.json"
    real.write_bytes(SENTINEL)
    real.chmod(0o640)
    os.symlink("../data/real.json", tmp_path / "links" / "middle.json")  # relative, across folders
    os.symlink(tmp_path / "links" / "middle.json", tmp_path / "links" / "out.json")
    result = run("convert", GOOD, "--to", "csljson", "-o", tmp_path / "links" / "out.json")
    assert result.rc == 0, result.err
    assert os.readlink(tmp_path / "links" / "out.json") == str(tmp_path / "links" / "middle.json")
    assert os.readlink(tmp_path / "links" / "middle.json") == "../data/real.json"
    assert ids(real.read_bytes()) == GOOD_IDS
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert folder_names(tmp_path / "links") == ["middle.json", "out.json"]
    assert folder_names(tmp_path / "data") == ["real.json"]


def test_failed_run_leaves_a_linked_file_alone(tmp_path):
    real = tmp_path / "real.json"
    real.write_bytes(SENTINEL)
    os.symlink("real.json", tmp_path / "out.json")
    assert run("convert", BROKEN, "--to", "csljson", "-o", tmp_path / "out.json").rc == 1
    assert real.read_bytes() == SENTINEL and (tmp_path / "out.json").is_symlink()
    assert folder_names(tmp_path) == ["out.json", "real.json"]


def test_dangling_symlink_creates_its_target(tmp_path):
    os.symlink("made.json", tmp_path / "out.json")
    result = run("convert", GOOD, "--to", "csljson", "-o", tmp_path / "out.json")
    assert result.rc == 0, result.err
    assert (tmp_path / "out.json").is_symlink()
    assert ids((tmp_path / "made.json").read_bytes()) == GOOD_IDS
    assert folder_names(tmp_path) == ["made.json", "out.json"]


def own_stdout_link(folder: Path) -> Path:
    """A link like /dev/stdout, made here: code that replaced its target would replace this link, not
    the system's (/dev/fd/N and /proc/self/fd/N cannot be replaced: no file can be made in them)."""
    link = folder / "stdout"
    os.symlink("/proc/self/fd/1", link)
    return link


def test_socket_and_link_loop_targets_are_errors_and_stay(tmp_path):
    import socket

    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(tmp_path / "sock"))
        result = run("convert", GOOD, "--to", "csljson", "-o", tmp_path / "sock")
        assert result.rc == 1 and result.err.startswith(f"{tmp_path / 'sock'}: error[io]: cannot write: ")
        assert stat.S_ISSOCK(os.lstat(tmp_path / "sock").st_mode)
    os.symlink("loop", tmp_path / "loop")
    result = run("convert", GOOD, "--to", "csljson", "-o", tmp_path / "loop")
    assert result.rc == 1 and "error[io]: cannot write: Too many levels of symbolic links" in result.err
    assert os.readlink(tmp_path / "loop") == "loop"
    assert folder_names(tmp_path) == ["loop", "sock"]


def test_descriptor_targets_are_written_through(tmp_path):
    to_pipe = sh(f"{BIBPORT} convert {GOOD} --to csljson -o {own_stdout_link(tmp_path)} | cat")
    assert to_pipe.returncode == 0 and ids(to_pipe.stdout) == GOOD_IDS, to_pipe.stderr
    assert os.readlink(tmp_path / "stdout") == "/proc/self/fd/1"
    fd3 = sh(f"{BIBPORT} convert {GOOD} --to csljson -o /dev/fd/3 3>&1 >/dev/null | cat")
    assert fd3.returncode == 0 and ids(fd3.stdout) == GOOD_IDS, fd3.stderr


def test_descriptor_onto_a_file_appends_like_a_redirection(tmp_path):
    log = tmp_path / "log"
    log.write_bytes(b"before\n")
    result = sh(f"{BIBPORT} convert {GOOD} --to csljson -o {own_stdout_link(tmp_path)} >> {log}")
    assert result.returncode == 0, result.stderr
    data = log.read_bytes()
    assert data.startswith(b"before\n") and ids(data[len(b"before\n"):]) == GOOD_IDS
    assert folder_names(tmp_path) == ["log", "stdout"]


def test_process_substitution_target(tmp_path):
    if subprocess.run(["sh", "-c", "command -v bash"], capture_output=True).returncode:
        pytest.skip("needs bash for >(...)")
    out = tmp_path / "out.json"
    result = subprocess.run(["bash", "-c", f"{BIBPORT} convert {GOOD} --to csljson -o >(cat > {out}); wait"],
                            cwd=ROOT, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for _ in range(100):  # the substituted process may finish just after bibport
        if out.exists() and out.stat().st_size:
            break
        time.sleep(0.05)
    assert ids(out.read_bytes()) == GOOD_IDS


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name)
def test_signal_mid_write_removes_the_temporary_file(tmp_path, big_bib, signum):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "all.json"
    target.write_bytes(SENTINEL)
    proc = spawn("convert", big_bib, "--to", "csljson", "-o", target)
    stderr = threading.Thread(target=proc.stderr.read, daemon=True)  # a full stderr pipe would stall the run
    stderr.start()
    deadline = time.monotonic() + 120
    while not any(name.endswith(".tmp") for name in os.listdir(folder)):
        assert proc.poll() is None, "finished before the temporary file was seen"
        assert time.monotonic() < deadline, "no temporary file appeared"
        time.sleep(0.01)
    proc.send_signal(signum)
    proc.wait(timeout=60)
    assert proc.returncode == 128 + signum
    assert folder_names(folder) == ["all.json"]
    assert target.read_bytes() == SENTINEL


# ------------------------------------------------------------------------ 2. streams end as Unix tools end


def _piped_into_head(*args) -> tuple[int, bytes]:
    """(bibport's exit status, its stderr) with its stdout read by `head -1`."""
    producer = spawn(*args)
    head = subprocess.Popen(["head", "-1"], stdin=producer.stdout, stdout=subprocess.DEVNULL)
    producer.stdout.close()  # only head holds the pipe now: when it exits, writes fail
    head.wait(timeout=120)
    err = producer.stderr.read()
    return producer.wait(timeout=120), err


def test_closed_pipe_ends_quietly(clean_bib):
    rc, err = _piped_into_head("convert", clean_bib, "--to", "csljson")
    assert rc in (0, 141) and err == b"", err.decode()


def test_closed_pipe_behind_a_descriptor_target_ends_quietly(clean_bib):
    rc, err = _piped_into_head("convert", clean_bib, "--to", "ris", "-o", "/dev/fd/1")
    assert rc in (0, 141) and err == b"", err.decode()


def _one_line(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.decode().splitlines() == [expected]


@needs_root
def test_stdout_on_a_full_disk_is_one_error(tmp_path, clean_bib):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        result = sh(f"{BIBPORT} convert {clean_bib} --to csljson > {disk}/out.json")
        _one_line(result, "<stdout>: error[io]: cannot write: No space left on device")
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(disk)], check=True)  # still busy: detach it anyway


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_stdout_on_dev_full_is_one_error():
    _one_line(sh(f"{BIBPORT} convert {GOOD} --to csljson > /dev/full"),
              "<stdout>: error[io]: cannot write: No space left on device")


def test_closed_stdout_is_one_error():
    _one_line(sh(f"{BIBPORT} convert {GOOD} --to csljson >&-"),
              "<stdout>: error[io]: cannot write: standard output is closed")
    _one_line(sh(f"{BIBPORT} check {GOOD} >&-"), "<stdout>: error[io]: cannot write: standard output is closed")


def test_closed_stdin_is_one_error():
    _one_line(sh(f"{BIBPORT} convert - --to csljson <&-"), "<stdin>: error[io]: cannot read: standard input is closed")
    assert b"standard input is closed" in sh(f"{BIBPORT} check - <&-").stdout  # check reports on stdout


def test_dev_zero_is_refused_at_once():
    started = time.monotonic()
    result = run("convert", "/dev/zero", "--to", "csljson", timeout=60)
    assert result.rc == 1
    assert result.err.startswith("/dev/zero: error[binary-input]: binary data"), result.err
    # no RSS bound here: a child's peak RSS on Linux starts at the forking pytest process's own peak
    assert time.monotonic() - started < 30


def test_nul_input_is_refused_after_its_first_block():
    # zeros fed through a pipe until bibport stops reading: it must stop after the first block (plus
    # what the pipe buffers), not read on towards the size cap
    proc = subprocess.Popen([sys.executable, "-m", "bibport", "convert", "-", "--to", "csljson"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    block, fed = bytes(64 * 1024), 0
    try:
        while fed < 64 * 1024 * 1024:
            proc.stdin.write(block)
            proc.stdin.flush()
            fed += len(block)
    except BrokenPipeError:
        pass
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "error[binary-input]" in err, err
    assert fed <= 2 * 1024 * 1024, f"{fed} bytes read before refusing"


def test_endless_fifo_stops_at_the_size_cap(tmp_path):
    fifo = tmp_path / "endless"
    os.mkfifo(fifo)
    written = [0]

    def feed():
        line = b"% a comment, forever\n" * 1000
        try:
            with open(fifo, "wb") as pipe:
                while written[0] < 1 << 30:
                    pipe.write(line)
                    written[0] += len(line)
        except BrokenPipeError:  # bibport stopped reading
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = run("convert", fifo, "--from", "bibtex", "--to", "csljson", "--max-input-size", "2M", timeout=60)
    writer.join(timeout=30)
    assert result.rc == 1
    assert f"{fifo}: error[input-too-large]: larger than 2M" in result.err, result.err
    assert not writer.is_alive() and written[0] < 8 << 20


def test_max_input_size_option(tmp_path, clean_bib):
    size = clean_bib.stat().st_size
    refused = run("convert", clean_bib, "--to", "csljson", "--max-input-size", "64K")
    assert refused.rc == 1 and "error[input-too-large]: larger than 64K" in refused.err
    assert refused.stdout == b""
    assert run("convert", clean_bib, "--to", "csljson", "--max-input-size", str(size)).rc == 0
    assert run("render", clean_bib, "--max-input-size", "1K").rc == 1
    assert run("check", clean_bib, "--max-input-size", "1k").rc == 1
    assert run("convert", clean_bib, "--to", "csljson", "--max-input-size", "12X").rc == 2


def test_max_input_size_in_the_api(clean_bib):
    with pytest.raises(api.BibportError, match="input-too-large"):
        api.read(clean_bib, max_input_size="64K")
    assert len(api.read(clean_bib, max_input_size=1 << 30)) == 2000
    assert api.parse_size("512M") == 512 << 20 and api.parse_size("2G") == 2 << 30
    assert api.parse_size("100") == 100
    with pytest.raises(ValueError):
        api.parse_size("lots")


def test_utf16_needs_its_encoding_named(tmp_path):
    source = tmp_path / "wide.bib"
    source.write_bytes(GOOD.read_text(encoding="utf-8").encode("utf-16"))
    refused = run("convert", source, "--to", "csljson")
    assert refused.rc == 1 and "error[binary-input]" in refused.err and "--encoding" in refused.err
    named = run("convert", source, "--to", "csljson", "--encoding", "utf-16")
    assert named.rc == 0 and ids(named.stdout) == GOOD_IDS, named.err


# -------------------------------------------------------------------------------- 4. nothing silently empty


def test_missing_path_in_the_api_is_an_error(tmp_path):
    for missing in ("refs/typo.bib", "typo.bib", str(tmp_path / "nothing.ris"), "refs/typo/", "refs2",
                    "me@home/refs.bib"):
        with pytest.raises(api.BibportError, match="cannot read"):
            api.read(missing)
        with pytest.raises(api.BibportError):
            api.convert(missing, "csljson")
    report = Report()
    assert api.read("refs/typo.bib", report=report) == []
    assert [(d.source, d.code) for d in report.errors] == [("refs/typo.bib", "io")]


def test_text_is_still_text_in_the_api():
    assert [i["id"] for i in api.read("@misc{a, title = {See x.bib}}")] == ["a"]
    assert api.read("[]") == [] and api.read("") == []
    assert api.read("@comment{nothing here}") == []
    assert [i["id"] for i in api.read('[{"id": "a/b", "type": "book", "title": "T.bib"}]')] == ["a/b"]


def test_unknown_suffix_is_sniffed(tmp_path):
    ris = tmp_path / "export.txt"
    ris.write_text("TY  - BOOK\nID  - lee2000\nTI  - A Title\nPY  - 2000\nER  - \n", encoding="utf-8")
    result = run("convert", ris, "--to", "csljson", "--strict")
    assert result.rc == 0 and len(json.loads(result.stdout)) == 1, result.err
    bib = tmp_path / "refs.bibliography"
    bib.write_bytes(GOOD.read_bytes())
    assert ids(run("convert", bib, "--to", "csljson").stdout) == GOOD_IDS


def test_unknown_suffix_that_says_nothing_is_refused(tmp_path):
    prose = tmp_path / "notes.txt"
    prose.write_text("Remember to cite the Xen paper.\n", encoding="utf-8")
    result = run("convert", prose, "--to", "csljson")
    assert result.rc == 1 and result.stdout == b""
    assert result.err == f"{prose}: error[unknown-format]: cannot tell the format of {prose}: use --from\n"


def test_folder_reads_every_readable_format(tmp_path):
    (tmp_path / "a.bib").write_bytes(GOOD.read_bytes())
    (tmp_path / "b.ris").write_text("TY  - BOOK\nID  - lee2000\nTI  - A Title\nER  - \n", encoding="utf-8")
    (tmp_path / "c.json").write_text('[{"id": "web1", "type": "webpage", "title": "W"}]', encoding="utf-8")
    (tmp_path / "notes.md").write_text("not a bibliography\n", encoding="utf-8")
    result = run("convert", tmp_path, "--to", "csljson")
    assert result.rc == 0, result.err
    assert ids(result.stdout) == ["barham2003xen", "lee2000", "web1"]


@pytest.mark.parametrize("contents", ["empty", "only-notes", "dangling-link"])
def test_folder_with_nothing_readable_is_an_error(tmp_path, contents):
    folder = tmp_path / "refs"
    folder.mkdir()
    if contents == "only-notes":
        (folder / "notes.md").write_text("nothing here\n", encoding="utf-8")
    if contents == "dangling-link":
        os.symlink("gone.bib", folder / "moved.bib")
    result = run("convert", folder, "--to", "csljson")
    assert result.rc == 1 and result.stdout == b""
    assert f"{folder}: error[empty-folder]: no file to read here" in result.err, result.err
    if contents == "dangling-link":
        assert f"{folder / 'moved.bib'}: warning[io]: skipped: a symbolic link to nothing" in result.err


def test_check_folder_without_bib_files_is_an_error(tmp_path):
    (tmp_path / "only.ris").write_text("TY  - BOOK\nER  - \n", encoding="utf-8")
    result = run("check", tmp_path)
    assert result.rc == 1 and b"error[empty-folder]" in result.stdout


@pytest.mark.parametrize("command", [["convert", "--to", "csljson"], ["render"], ["check"]], ids=lambda c: c[0])
def test_no_inputs_is_a_usage_error_even_with_stdin_piped(command):
    result = run(*command, stdin=GOOD.read_bytes())
    assert result.rc == 2 and result.stdout == b""
    assert "no input: give files, folders, or - for standard input" in result.err
