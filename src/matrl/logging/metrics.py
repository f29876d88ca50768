"""One row of scalars per iteration, to ``metrics.csv`` and TensorBoard at once.

The CSV is the record other tools read (`matrl plot`, the result scripts); TensorBoard is for watching a run.
On resume the CSV is cut back to the checkpointed iteration (rewritten atomically) and TensorBoard purges the
events after it, so a resumed run's logs equal an uninterrupted run's.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matrl.fileio import write_text_atomically

#: Columns every metrics.csv starts with, in this order.
LEADING_COLUMNS = ("iteration", "env_steps", "total_return")


class MetricsLog:
    """Appends iteration rows to ``run_dir/metrics.csv`` and to TensorBoard events under ``run_dir/tb``."""

    def __init__(self, run_dir: Path, resume_iteration: int = 0, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.csv"
        self.columns: list[str] | None = None
        if resume_iteration > 0:
            self._truncate(resume_iteration)
        elif self.path.exists():
            self.path.unlink()
        self._writer: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=resume_iteration + 1)

    def _truncate(self, iteration: int) -> None:
        """Keep the header and the rows of iterations <= ``iteration``.

        A kill while a row is appended leaves a last line without its newline, cut anywhere (even inside its
        last value, where it still has every field): such a line is dropped like a row with missing fields.
        """
        if not self.path.exists():
            raise FileNotFoundError(f"cannot resume: {self.path} is missing")
        text = self.path.read_text(encoding="utf-8")
        if not text.endswith("\n"):
            text = text[: text.rindex("\n") + 1] if "\n" in text else ""
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows:
            raise ValueError(f"cannot resume: {self.path} is empty")
        self.columns = rows[0]
        kept = [r for r in rows[1:] if len(r) == len(self.columns) and int(r[0]) <= iteration]
        if len(kept) != iteration:
            raise ValueError(
                f"cannot resume: {self.path} holds {len(kept)} complete rows up to iteration {iteration}, "
                f"expected {iteration}"
            )
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([self.columns, *kept])
        write_text_atomically(self.path, buffer.getvalue())

    def write(self, row: Mapping[str, float]) -> None:
        """Append one iteration's scalars (the first row fixes the columns; missing values are empty)."""
        if self.columns is None:
            rest = [k for k in row if k not in LEADING_COLUMNS]
            self.columns = [*LEADING_COLUMNS, *rest]
            with self.path.open("w", newline="") as f:
                csv.writer(f, lineterminator="\n").writerow(self.columns)
        values = [_format(row.get(name)) for name in self.columns]
        with self.path.open("a", newline="") as f:
            csv.writer(f, lineterminator="\n").writerow(values)
        if self._writer is not None:
            step = int(row["iteration"])
            for name, value in row.items():
                if name != "iteration" and value is not None and math.isfinite(value):
                    self._writer.add_scalar(name, value, global_step=step)

    def sync(self) -> None:
        """Flush the rows written so far to disk: called before a checkpoint, so that after a power loss the
        CSV still holds every row up to the checkpoint that survived (resume needs them)."""
        if self.path.exists():
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def close(self) -> None:
        """Flush TensorBoard events."""
        if self._writer is not None:
            self._writer.close()


def _format(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))
