"""--tensorboard: metrics rows, grids and the validation probe mirrored into event files;
a clear one-line refusal, before anything is written, when tensorboard is not installed."""

import json
import sys

import pytest
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.config import Config
from bigan_repr.train.trainer import train
from tests.conftest import SMALL


def test_tensorboard_mirrors_metrics_grids_and_probe(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train_cfg = SMALL["train"] | {"steps": 10, "sample_every": 5, "eval_every": 5, "tensorboard": True}
    train(Config().updated(SMALL | {"train": train_cfg}), tmp_path / "run", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()

    def steps(tag, kind):
        return [e.step for e in getattr(events, kind)(tag)]

    train_rows = [r for r in rows if r.get("kind") != "eval"]
    assert steps("train/d_loss", "Scalars") == [r["step"] for r in train_rows] == [5, 10]
    assert [e.value for e in events.Scalars("train/recon")] == pytest.approx([r["recon"] for r in train_rows])
    assert steps("validation/val_knn", "Scalars") == [5, 10]
    assert steps("grids/samples", "Images") == steps("grids/reconstructions", "Images") == [5, 10]


def test_tensorboard_missing_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed: import fails
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", "--steps", "2", "--threads", "1", "--tensorboard", "--out", str(out)])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        "error: --tensorboard needs the tensorboard package: pip install 'bigan-repr[tensorboard]' "
        "(or pip install tensorboard)"]
    assert not out.exists()  # refused before the run directory was made


def test_a_resumed_run_hides_what_the_interrupted_one_logged_past_its_checkpoint(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from bigan_repr.runs.tensorboard import TensorBoardSink

    first = TensorBoardSink(tmp_path)  # logged steps 5..15, checkpointed at 5, then killed
    for step in (5, 10, 15):
        first.write_row({"step": step, "d_loss": 1.0})
    first.close()
    resumed = TensorBoardSink(tmp_path)  # resumes from step 5 and logs 10 and 15 again
    for step in (10, 15):
        resumed.write_row({"step": step, "d_loss": 2.0})
    resumed.close()
    events = EventAccumulator(str(tmp_path)).Reload().Scalars("train/d_loss")
    assert [(e.step, e.value) for e in events] == [(5, 1.0), (10, 2.0), (15, 2.0)]
