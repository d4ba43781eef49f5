"""Output files that survive a kill: write to a temporary file next to the
target, then rename it over the target (atomic on POSIX).

Temporary files are named ``.tmp-<target name>-<random>``, get the mode a
plain ``open()`` would give (0666 minus the user's umask, not mkstemp's 0600),
are removed on every exit path that Python sees, and a later run removes the
ones a SIGKILL left behind (:func:`remove_stale`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile

PREFIX = ".tmp-"


def umask() -> int:
    """The process umask (read from /proc where possible: setting it is not thread-safe)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in `path`'s directory; on success it replaces `path`."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{PREFIX}{name}-", suffix=os.path.splitext(name)[1], dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def remove_stale(directory, names, patterns=(), old_patterns=(), min_age=600.0):
    """Delete temporary files a killed earlier run left in `directory`:
    ``.tmp-<name>-*`` for each of `names`, whatever matches `patterns`, and
    what matches `old_patterns` if older than `min_age` seconds (patterns that
    another, running process could be using for a moment)."""
    import time

    found = [(p, 0.0) for name in names
             for p in glob.glob(os.path.join(glob.escape(directory), f"{PREFIX}{glob.escape(name)}-*"))]
    found += [(p, 0.0) for pat in patterns for p in glob.glob(os.path.join(glob.escape(directory), pat))]
    found += [(p, min_age) for pat in old_patterns for p in glob.glob(os.path.join(glob.escape(directory), pat))]
    removed = []
    now = time.time()
    for p, age in found:
        try:
            if age and now - os.path.getmtime(p) < age:
                continue
            os.unlink(p)
            removed.append(p)
        except (FileNotFoundError, IsADirectoryError):
            pass
    return removed
