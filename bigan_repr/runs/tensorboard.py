"""TensorBoard logging (``--tensorboard``, an optional extra): a second view of a run's log.

Every row written to metrics.jsonl also becomes TensorBoard scalars (training rows under
``train/``, validation-probe rows under ``validation/``), and each sample/reconstruction grid
becomes an image, in RUN/tensorboard/. metrics.jsonl stays the record; this only mirrors it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import UserError

TENSORBOARD_DIR = "tensorboard"
_GRIDS = ("samples", "reconstructions")  # the PNG grids a run directory holds


class TensorBoardSink:
    """Mirrors metrics rows and grids into event files; the writer opens on the first event."""

    def __init__(self, folder: str | Path):
        try:  # checked when the run is set up, before anything is written
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError("--tensorboard needs the tensorboard package: pip install 'bigan-repr[tensorboard]' "
                            "(or pip install tensorboard)") from None
        self._writer_class, self.folder, self._writer = SummaryWriter, Path(folder), None

    def _at(self, step: int):
        if self._writer is None:
            # a resumed run logs again from its checkpoint's step: purge_step hides the events an
            # interrupted process wrote at or after this step, as truncate_metrics drops its rows
            self._writer = self._writer_class(str(self.folder), purge_step=step)
        return self._writer

    def write_row(self, row: dict[str, Any]) -> None:
        group = "validation" if row.get("kind") == "eval" else "train"
        writer = self._at(int(row["step"]))
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):  # not "best"
                writer.add_scalar(f"{group}/{key}", value, int(row["step"]))
        writer.flush()

    def write_grids(self, step: int, run_dir: str | Path) -> None:
        writer = self._at(step)
        for name in _GRIDS:
            path = Path(run_dir) / f"{name}.png"
            if path.is_file():
                with Image.open(path) as image:
                    writer.add_image(f"grids/{name}", np.asarray(image.convert("RGB")), step, dataformats="HWC")
        writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
