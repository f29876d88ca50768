"""One description of the machine a benchmark ran on, shared by every script under benchmarks/."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def describe_machine() -> str:
    """CPU model, logical CPUs, OS, Python and numpy versions, as one line for a results file."""
    cpu = platform.processor() or platform.machine() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; numpy {np.__version__}"
    )


def provenance(script: str, seconds: float, note: str = "") -> str:
    """The closing lines of a results file: machine, date and duration, the command that wrote it, a note."""
    command = shlex.join(["python", script, *sys.argv[1:]])
    lines = (
        f"- Machine: {describe_machine()}\n"
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; {seconds:.0f} s in all\n"
        f"- Command: `{command}` (from the repository root, in the project venv)\n"
    )
    return lines + (f"- Note: {note}\n" if note else "")
