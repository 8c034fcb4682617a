"""Training progress: a bar on a terminal, ten plain lines elsewhere."""

import io

from bigan_repr.runs.progress import StepProgress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _drive(stream, total=1000, initial=0, enabled=True):
    progress = StepProgress(total, initial, "train gan", enabled=enabled, stream=stream)
    for step in range(initial + 1, total + 1):
        progress.update(step, {"d_loss": 1.386, "img_per_s": 250.0} if step % 50 == 0 else None)
    progress.close()
    return stream.getvalue()


def test_a_log_file_gets_one_plain_line_per_tenth():
    lines = _drive(io.StringIO()).splitlines()
    assert len(lines) == 10 and "\r" not in "".join(lines)
    assert lines[0] == "train gan: step 100/1000 (10%)  d_loss 1.39  img_per_s 250"
    assert lines[-1].startswith("train gan: step 1000/1000 (100%)")


def test_a_resumed_run_counts_its_tenths_from_where_it_stands():
    lines = _drive(io.StringIO(), total=95, initial=40).splitlines()
    assert [line.split()[3] for line in lines] == ["50/95", "60/95", "70/95", "80/95", "90/95", "95/95"]


def test_a_terminal_gets_the_bar_and_quiet_gets_nothing():
    shown = _drive(_Terminal(), total=200)
    assert "\r" in shown and "200/200" in shown
    assert _drive(io.StringIO(), enabled=False) == ""
