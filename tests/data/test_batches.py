"""Both batch streams serve the same batches: the device-resident tensor and the DataLoader path."""

import pytest
import torch
from PIL import Image

from bigan_repr.config import Config, DataConfig
from bigan_repr.data.batches import BatchStream, LoaderStream, epoch_order
from bigan_repr.data.folder import FolderDataset
from bigan_repr.data.sources import load_images
from bigan_repr.errors import DataError
from bigan_repr.train.trainer import Trainer
from tests.conftest import SMALL


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    data = load_images(DataConfig(), "test")
    for i, (img, label) in enumerate(zip(data.images[:150], data.labels[:150], strict=True)):
        (root / f"class{label}").mkdir(exist_ok=True)
        Image.fromarray(img[0], "L").save(root / f"class{label}" / f"{i:04d}.png")
    return root


def test_epoch_order_is_a_permutation_split_across_ranks():
    full = epoch_order(100, seed=3, epoch=2)
    assert sorted(full.tolist()) == list(range(100))
    shards = [epoch_order(100, 3, 2, rank=r, world=3) for r in range(3)]
    assert sorted(torch.cat(shards).tolist()) == list(range(100))
    assert not torch.equal(full, epoch_order(100, seed=3, epoch=3))


def test_memory_and_loader_streams_give_identical_batches(digit_folder):
    cfg = DataConfig(source=f"folder:{digit_folder}")
    memory = BatchStream(torch.from_numpy(load_images(cfg).images), batch_size=16, seed=5)
    loader = LoaderStream(FolderDataset(cfg), batch_size=16, seed=5, device=torch.device("cpu"), workers=2)
    assert memory.per_epoch == loader.per_epoch == 9
    for _ in range(2 * memory.per_epoch + 3):  # across two epoch boundaries
        assert torch.equal(memory.next(), loader.next())
    # both restore a mid-epoch position and continue identically
    state = memory.state_dict()
    a = BatchStream(memory.images, 16, 5)
    b = LoaderStream(loader.dataset, 16, 5, device=torch.device("cpu"), workers=0)
    a.load_state_dict(state)
    b.load_state_dict(state)
    for _ in range(12):
        expected = memory.next()
        assert torch.equal(a.next(), expected) and torch.equal(b.next(), expected)


def test_training_on_a_folder_uses_the_loader_and_matches_the_memory_path(digit_folder, tmp_path):
    runs = {}
    for stream in ("loader", "memory"):
        cfg = Config().updated(SMALL | {
            "data": {"source": f"folder:{digit_folder}", "stream": stream, "workers": 1},
            "train": SMALL["train"] | {"steps": 6, "batch_size": 16}})
        trainer = Trainer(cfg, tmp_path / stream, progress=False)
        assert isinstance(trainer.parts.stream, LoaderStream if stream == "loader" else BatchStream)
        trainer.run()
        runs[stream] = trainer.parts.model.state_dict()
    assert all(torch.equal(runs["loader"][k], runs["memory"][k]) for k in runs["memory"])


def _with_bad_files(digit_folder, folder, n_bad=6):
    import shutil

    shutil.copytree(digit_folder, folder)
    bad = sorted(folder.rglob("*.png"))[5::20][:n_bad]  # never the first file, which sets the shape
    for path in bad:
        path.write_bytes(b"not an image")
    return bad


def test_a_bad_file_on_the_loader_path_is_one_line_naming_it(digit_folder, tmp_path):
    bad = _with_bad_files(digit_folder, tmp_path / "copy")
    stream = LoaderStream(FolderDataset(DataConfig(source=f"folder:{tmp_path / 'copy'}")), batch_size=16, seed=0,
                          device=torch.device("cpu"), workers=2)
    with pytest.raises(DataError) as err:
        for _ in range(stream.per_epoch):  # one epoch: some batch holds a bad file
            stream.next()
    message = str(err.value)
    assert "\n" not in message and "worker" not in message
    assert any(message.startswith(f"cannot read image {path}: ") for path in bad), message


def test_training_on_a_folder_with_a_bad_file_is_one_line_and_exit_2(digit_folder, tmp_path):
    from click.testing import CliRunner

    from bigan_repr.cli import main

    bad = _with_bad_files(digit_folder, tmp_path / "copy")
    result = CliRunner().invoke(main, ["train", "--data", f"folder:{tmp_path / 'copy'}", "--epochs", "1",
                                       "--batch-size", "16", "--hidden", "16", "--z-dim", "4", "--threads", "1",
                                       "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot read image ") and any(str(p) in lines[0] for p in bad)
