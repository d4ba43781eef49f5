"""How much memory this process has and has used (Linux /proc and cgroups).

``TINYNET_MEMORY_LIMIT`` (bytes, or with a K/M/G suffix) overrides the
detected amount available to one training process; the trainer's up-front
check compares its estimate against it.
"""

from __future__ import annotations

import os
import resource

LIMIT_VARIABLE = "TINYNET_MEMORY_LIMIT"
_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text, what=LIMIT_VARIABLE) -> int:
    """'512M', '6G', '1000000' -> bytes; ValueError naming `what` otherwise."""
    s = str(text).strip().upper().removesuffix("B").removesuffix("I")
    unit = s[-1:] if s[-1:] in _SUFFIX else ""
    number = s[: len(s) - len(unit)]
    try:
        value = float(number) * _SUFFIX[unit]
    except ValueError:
        raise ValueError(f"{what}: expected a size such as 6G or 512M, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"{what}: must be positive, got {text!r}")
    return int(value)


def current_rss() -> int:
    """Resident set size of this process now, bytes."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss() -> int:
    """Peak resident set size of this process so far, bytes (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _meminfo_available():
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _cgroup_room():
    """Bytes left under a cgroup (v2 or v1) memory limit, None without one."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as fh:
                limit = fh.read().strip()
            with open(usage_file) as fh:
                usage = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < (1 << 60):
            return int(limit) - usage
    return None


def available_to_process(local_ranks=1):
    """(bytes this process may still grow by, where the figure comes from).

    With ``TINYNET_MEMORY_LIMIT`` set: that limit minus what the process already
    holds.  Otherwise the machine's (or cgroup's) available memory shared
    equally by the ranks running on this node.
    """
    env = os.environ.get(LIMIT_VARIABLE)
    if env:
        return parse_size(env) - current_rss(), f"{LIMIT_VARIABLE}={env}"
    room = [v for v in (_meminfo_available(), _cgroup_room()) if v is not None]
    if not room:
        return None, "unknown"
    share = min(room) // max(1, local_ranks)
    where = "available memory" + (f" / {local_ranks} ranks on this node" if local_ranks > 1 else "")
    return share, where


def gib(n) -> str:
    return f"{n / (1 << 30):.2f} GB"
