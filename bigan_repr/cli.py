"""The ``bigan`` command line: parse, call the library, print. Nothing else lives here."""

from __future__ import annotations

import errno
import json
import os
import re
import sys
import time
from pathlib import Path

import click

from .cli_flags import OutputPath, build_config, field_limits, number_type, overrides_from_flags, training_options
from .config import FEATURE_LAYERS, Config, resolve_layer
from .data.catalog import source_name
from .data.image_set import SPLITS
from .errors import UserError
from .eval.logreg import BACKENDS
from .eval.protocol import DEFAULT_PROTOCOL, LIMITS, EvalProtocol
from .features.export import EXPORT_FORMATS
from .features.files import SHARD_ROWS


def _default_out(cfg: Config) -> str:
    """runs/DATA-OBJECTIVE-TIME, DATA the source's name ('folder' for folder:PATH)."""
    return f"runs/{source_name(cfg.data.source)}-{cfg.train.objective}-{time.strftime('%Y%m%d-%H%M%S')}"


class StdoutError(Exception):
    """Standard output took no more: closed, a broken pipe, or its disk full (ENOSPC)."""


class _Stdout:
    """``sys.stdout`` while a command runs: a write or flush it refuses becomes a :class:`StdoutError`.

    A closed stdout (``sys.stdout`` None) refuses any text: click and print would drop it silently.
    No ``buffer`` is offered, so click writes through this object, never around it.
    """

    def __init__(self, stream):
        self._stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.errors = getattr(stream, "errors", None)

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self._stream is None:
            if text:
                raise StdoutError("it is closed")
            return 0
        return self._guarded(self._stream.write, text)

    def flush(self) -> None:
        if self._stream is not None:
            self._guarded(self._stream.flush)

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError(errno.EBADF, "standard output is closed")
        return self._stream.fileno()

    @staticmethod
    def _guarded(call, *args):
        try:
            return call(*args)
        except OSError as e:
            raise StdoutError(e.strerror or str(e)) from None


def _drop_pending_output(stream) -> None:
    """After a failed write to the process's stdout, point its descriptor at the null device, so the
    interpreter's flush at exit drops what is left instead of failing a second time."""
    if stream is None or stream is not sys.__stdout__:
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


def _hold_closed_descriptor() -> None:
    """With descriptor 1 closed, the next file opened would get it, and anything written to "stdout"
    below Python would land in that file: hold it with the null device (sys.stdout stays closed)."""
    if sys.stdout is not None or sys.__stdout__ is not None:
        return
    try:
        os.fstat(1)
    except OSError:
        null = os.open(os.devnull, os.O_WRONLY)
        if null != 1:
            os.close(null)


class Command(click.Command):
    """Every command: the paths it writes (:class:`OutputPath`) checked by the one rule of runs/targets.py
    before it starts, with every other path it names counted as read."""

    def invoke(self, ctx):
        from bigan_repr.runs.targets import command_scope

        named = [(p, ctx.params.get(p.name)) for p in self.params if isinstance(p.type, (click.Path, OutputPath))]
        inputs = [v for p, value in named if isinstance(p.type, click.Path)
                  for v in (value if isinstance(value, tuple) else [value]) if v is not None]
        with command_scope(inputs):
            for p, value in named:
                if isinstance(p.type, OutputPath) and value is not None:
                    p.type.check(value, p.opts[0])
            return super().invoke(ctx)


class Group(click.Group):
    """Turns user errors into one clear line and exit status 2, with no traceback; so too a write to
    standard output that fails (closed, a broken pipe, a full disk), whichever command made it."""

    command_class = Command

    def main(self, *args, **kwargs):
        _hold_closed_descriptor()
        stdout = sys.stdout
        sys.stdout = guarded = _Stdout(stdout)
        try:
            try:
                return super().main(*args, **kwargs)  # standalone: ends in SystemExit
            finally:
                guarded.flush()  # output still buffered fails here, not at exit
        except StdoutError as e:
            _drop_pending_output(stdout)
            click.echo(f"error: cannot write to standard output: {e}", err=True)
            sys.exit(2)
        finally:
            sys.stdout = stdout

    def invoke(self, ctx):
        from bigan_repr.eval import EvalInputError

        try:
            return super().invoke(ctx)
        except (UserError, EvalInputError) as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)


@click.group(cls=Group)
@click.version_option(package_name="bigan-repr")
def main():
    """Learn image representations with a BiGAN and measure how good they are."""


@main.command()
@training_options
@click.option("--out", type=OutputPath("folder"), help="run directory (default: runs/DATA-OBJECTIVE-TIME)")
@click.option("--resume", "resume", type=click.Path(file_okay=False, exists=True),
              help="continue the run in this directory")
@click.option("--quiet", is_flag=True, help="no progress bar")
def train(config_file, preset, out, resume, quiet, **kwargs):
    """Train a BiGAN (G, E and a joint D) on an image dataset."""
    from bigan_repr.runs.run_dir import RunDir
    from bigan_repr.train.trainer import train as run_training

    flags = overrides_from_flags(kwargs)
    ignored = [flag for flag, given in (("--preset", preset), ("--out", out)) if given]
    if resume and ignored:
        raise UserError(f"--resume continues {resume} with its own recipe and directory; "
                        f"{' and '.join(ignored)} cannot be combined with it")
    if resume:
        stored = Config.from_stored(RunDir(resume).read_config(), where=f"{resume}/config.json")
        cfg, out = build_config(config_file, flags, base=stored), resume
    else:
        cfg = build_config(config_file, flags, preset_name=preset)
        out = out or _default_out(cfg)
    result = run_training(cfg, out, resume=bool(resume), progress=not quiet)
    click.echo(f"{result.stopped} at step {result.step}; run directory: {result.run_dir}")
    if result.stopped == "interrupted":
        sys.exit(130)


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
def info(run):
    """Print a run's config, its last metrics and, from its report.json, the coupling and generation numbers."""
    from bigan_repr.model.checkpoint import step_checkpoints
    from bigan_repr.runs.metrics_log import last_metrics
    from bigan_repr.runs.run_dir import RunDir

    rd = RunDir(run)
    # every file is read and checked before anything is printed; metrics.jsonl streamed, its last row kept
    config, last = rd.read_config(), last_metrics(rd.metrics_path)
    judgement = _judgement(Path(run) / "report.json")
    click.echo(json.dumps(config, indent=2, allow_nan=False))
    click.echo(f"checkpoints: {', '.join(p.name for p in step_checkpoints(Path(run))) or 'none'}")
    if last is not None:
        click.echo("last metrics: " + json.dumps(last, indent=2, allow_nan=False))
    click.echo("\n".join(judgement))


def _judgement(report_file: Path) -> list[str]:
    """The lines of the coupling and generation numbers of a run's report.json (computed by `bigan report`,
    never here), the verdict escaped onto one line. A number too large to show (``d_accuracy`` 1e308 shown
    as a percentage) is refused: never "inf" or "nan" where a number belongs."""
    from bigan_repr.eval.report import judgement_rows
    from bigan_repr.features.predict import escaped

    if not report_file.is_file():
        return ["coupling and generation: no report.json yet (`bigan report RUN` measures them)"]
    from bigan_repr.report.report_file import read_report

    payload = read_report(report_file)
    rows = judgement_rows(payload)
    if not rows:
        return ["coupling and generation: not in report.json (a run without G and D, or an older report)"]
    if bad := next((f"{what}: {value}" for what, value in rows if re.search(r"\b(?:nan|inf)\b", f"{what} {value}")),
                   None):
        raise UserError(f"{report_file}: a number there is out of range, shown as '{bad}'")
    lines = ["coupling and generation (report.json):"]
    if verdict := payload.get("coupling", {}).get("verdict"):
        lines.append(f"  {escaped(verdict if isinstance(verdict, str) else json.dumps(verdict, allow_nan=False))}")
    width = max(len(what) for what, _ in rows)
    return lines + [f"  {what.ljust(width)}  {value}" for what, value in rows]


def _budgets(text: str) -> tuple:
    """'10,0.01,1.0' -> (10, 0.01, 1.0): integers are labels per class, fractions are shares."""
    try:
        return tuple(float(b) if "." in b else int(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise UserError(f"--budgets {text!r}: expected comma-separated integers or fractions") from None


def _protocol(budgets: str, n_seeds: int, restarts: int, kmeans_spaces: str, n2d: bool, **more) -> EvalProtocol:
    """The evaluation protocol the flags ask for; every other setting is the protocol's default. --n2d without
    umap-learn installed: one line on stderr, and the column is left out."""
    from bigan_repr.eval.n2d import n2d_available

    spaces = tuple(s.strip() for s in kmeans_spaces.split(",") if s.strip())
    if n2d and not n2d_available():
        click.echo('note: the N2D column is skipped: it needs umap-learn (pip install -e ".[cluster]")', err=True)
        n2d = False
    return EvalProtocol(budgets=_budgets(budgets), seeds=tuple(range(n_seeds)), restarts=restarts,
                        kmeans_spaces=spaces, n2d=n2d, **more)


def _set_threads(n: int | None) -> None:
    from bigan_repr.model.runtime import set_threads

    set_threads(n)


def _print_results(results: dict, as_json: bool) -> None:
    from bigan_repr.eval import render_table_text

    if as_json:
        click.echo(json.dumps(results, indent=2, default=float, allow_nan=False))
    else:
        click.echo(render_table_text(results))


def _print_report(report: dict, as_json: bool) -> None:
    """A run's report: the table (or its rows as JSON), and a semi-supervised run's classifier."""
    _print_results(report["results"], as_json)
    if "classifier" in report:
        c = report["classifier"]
        click.echo(f"classifier: test accuracy {c['test_accuracy']:.1f}% from {c['labeled']} labelled images "
                   f"({c['labels_per_class']} per class, label seed {c['label_seed']})", err=True)


eval_options = [
    click.option("--budgets", default=",".join(map(str, DEFAULT_PROTOCOL.budgets)), show_default=True,
                 help="label budgets for the linear probe: integers = labels per class, fractions = share"),
    click.option("--seeds", "n_seeds", type=number_type(int, LIMITS["seeds"]), default=len(DEFAULT_PROTOCOL.seeds),
                 show_default=True, help="seeds per label budget"),
    click.option("--restarts", type=number_type(int, LIMITS["restarts"]), default=DEFAULT_PROTOCOL.restarts,
                 show_default=True, help="k-means restarts"),
    click.option("--kmeans-spaces", default=",".join(DEFAULT_PROTOCOL.kmeans_spaces), show_default=True,
                 help="k-means also on these transforms of the features: l2 (L2-normalised), pcaw (PCA-whitened "
                      "to min(256, d) dims, then L2; DeepCluster's); empty: plain k-means only"),
    click.option("--n2d", is_flag=True, help="also cluster by N2D (UMAP to K dims, then a Gaussian mixture), "
                                             "timed; needs the cluster extra"),
    click.option("--json", "as_json", is_flag=True, help="print machine-readable results on stdout"),
]
threads_option = click.option("--threads", "n_threads", type=number_type(int, field_limits("train", "threads")),
                              default=None,
                              help="CPU threads for torch, faiss and BLAS together (default: all cores)")
embedding_option = click.option("--embedding", default=None, metavar="METHOD",
                                help="embedding plot: tsne (default; on a subsample) or pca (fast)")

def _device(ctx, param, value: str) -> str:
    from bigan_repr.model.runtime import resolve_device

    resolve_device(value)  # refused here, before any work, for every command that takes --device
    return value


device_option = click.option("--device", default="auto", show_default=True, callback=_device,
                             help="auto, cpu, cuda, cuda:N or mps")
REPORT_FILES = ("report.json", "report.md", "report.html")  # what report.outputs.write_report writes into --out
layer_option = click.option("--layer", type=click.Choice(FEATURE_LAYERS), default=None,
                            help="the layer to export: z, penultimate, d or concat (default: the run's model.features)")
skip_bad_option = click.option("--skip-bad/--no-skip-bad", default=None,
                               help="skip unreadable image files instead of failing (default: as the run trained)")


def with_eval_options(f):
    for option in reversed(eval_options):
        f = option(f)
    return f


@main.command()
@training_options
@click.option("--out", type=OutputPath("folder"), help="run directory (default: runs/DATA-OBJECTIVE-TIME)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@with_eval_options
@embedding_option
def pipeline(config_file, preset, out, quiet, budgets, n_seeds, restarts, kmeans_spaces, n2d, as_json, embedding,
             **kwargs):
    """Train, encode, evaluate with baselines, report.

    The baselines are raw pixels and a random-init encoder of the same architecture.
    """
    from bigan_repr.report.run_report import check_reportable, evaluate_run
    from bigan_repr.train.trainer import train as run_training

    cfg = build_config(config_file, overrides_from_flags(kwargs), preset_name=preset)
    out = out or _default_out(cfg)
    protocol = _protocol(budgets, n_seeds, restarts, kmeans_spaces, n2d)
    check_reportable(cfg.data, protocol=protocol, embedding=embedding)  # refused before training, not after it
    result = run_training(cfg, out, progress=not quiet)
    click.echo(f"training {result.stopped} at step {result.step}", err=True)
    _print_report(evaluate_run(result.run_dir, protocol=protocol, embedding=embedding), as_json)
    click.echo(f"report: {Path(out) / 'report.html'}", err=True)


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--labels-per-class", type=number_type(int, field_limits("data", "labels_per_class")), required=True,
              help="labelled images per class, a class-balanced draw of the training split")
@click.option("--label-seed", type=number_type(int, field_limits("data", "label_seed")), default=0,
              show_default=True, help="the seed of the labelled images' draw (as train's --label-seed)")
@click.option("--steps", type=number_type(int, field_limits("train", "steps")), default=None,
              help="fine-tuning steps  [default: 500]")
@click.option("--out", type=OutputPath("folder"), required=True, help="the new run directory (never RUN)")
@threads_option
@click.option("--quiet", is_flag=True, help="no progress bar")
def finetune(run, labels_per_class, label_seed, steps, out, n_threads, quiet):
    """Fine-tune RUN's encoder with a fresh class head on N labelled images per class.

    SimCLR's semi-supervised protocol: E starts from RUN's exported checkpoint and trains with the head on the
    labelled images alone, with RUN's augmentations; no G, D or other term. The new run in --out is what
    predict, export --classifier and report read, and train --resume continues; RUN is only read.
    """
    from bigan_repr.train.finetune import FINETUNE_STEPS, finetune_config
    from bigan_repr.train.trainer import train as run_training

    _set_threads(n_threads)  # --out inside RUN, or RUN itself, is refused by the output rule (runs/targets)
    cfg = finetune_config(run, labels_per_class, label_seed, steps or FINETUNE_STEPS, n_threads)
    result = run_training(cfg, out, progress=not quiet)
    click.echo(f"{result.stopped} at step {result.step}; run directory: {result.run_dir}")
    if result.stopped == "interrupted":
        sys.exit(130)


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--checkpoint", type=click.Path(dir_okay=False, exists=True),
              help="one of RUN's checkpoint files (default: best.pt, else the latest)")
@skip_bad_option
@with_eval_options
@embedding_option
@threads_option
def report(run, checkpoint, skip_bad, budgets, n_seeds, restarts, kmeans_spaces, n2d, as_json, embedding, n_threads):
    """Evaluate a run beside the baselines; write the report.

    Writes report.json, report.md, the self-contained report.html and embedding.png into the
    run directory.
    """
    _set_threads(n_threads)
    from bigan_repr.report.run_report import evaluate_run

    protocol = _protocol(budgets, n_seeds, restarts, kmeans_spaces, n2d)
    report = evaluate_run(run, checkpoint=checkpoint, protocol=protocol,
                          embedding=embedding, skip_bad=skip_bad)
    _print_report(report, as_json)
    click.echo(f"report: {Path(run) / 'report.html'}", err=True)


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--html", "html_file", type=OutputPath("file", example="compare.html"),
              help="also write the comparison as one HTML file")
@with_eval_options
@threads_option
def compare(runs, html_file, budgets, n_seeds, restarts, kmeans_spaces, n2d, as_json, n_threads):
    """Compare runs' reports in one table, the best value per column marked.

    A run without report.json gets one first, as `bigan report RUN` makes it (the evaluation
    options apply to those reports only).
    """
    _set_threads(n_threads)
    from bigan_repr.eval.compare import render_compare_text
    from bigan_repr.report.compare_runs import compare_runs

    protocol = _protocol(budgets, n_seeds, restarts, kmeans_spaces, n2d)
    comparison = compare_runs(runs, html=html_file, protocol=protocol)
    click.echo(json.dumps(comparison, indent=2, allow_nan=False) if as_json else render_compare_text(comparison))
    if html_file:
        click.echo(f"comparison: {html_file}", err=True)


def _feature_out_options(f):
    f = click.option("--shard-size", type=number_type(int, (1, 10**9)), default=SHARD_ROWS, show_default=True,
                     metavar="ROWS", help="rows per shard file when --out is a folder")(f)
    f = click.option("--out", required=True, type=OutputPath("features"),
                     help="a .npz file, or a folder (DIR/) filled with shards as they are encoded")(f)
    return f


def _report_written(written, layer: str, skipped: list[str]) -> None:
    if written.main:
        click.echo(f"wrote {written.count} x {written.dim} features ({layer}) to {written.out}", err=True)
    if skipped:
        from bigan_repr.data.image_files import describe_skipped

        click.echo(f"skipped {describe_skipped(skipped)}", err=True)


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--data", "source", help="data source (default: the run's)")
@click.option("--data-dir", help="folder holding the dataset files")
@click.option("--download", is_flag=True, help="allow downloading the dataset")
@click.option("--split", type=click.Choice(SPLITS), default="train", show_default=True)
@layer_option
@device_option
@_feature_out_options
@skip_bad_option
@threads_option
def encode(run, source, data_dir, download, split, layer, device, out, shard_size, skip_bad, n_threads):
    """Encode a dataset split into a feature file.

    Writes features (float32, N x d), labels, ids and metadata (run, step, layer) to one .npz,
    or, when --out is a folder, to shards part-00000.npy ... and a manifest.json. Under
    torchrun (-m cli encode ...) the shards are shared out among the processes.
    """
    _set_threads(n_threads)
    from bigan_repr.features.encode_job import encode_rows
    from bigan_repr.features.encoder import load_encoder, rows_for

    loaded = load_encoder(run, device=device)
    rows = rows_for(loaded, source, split, data_dir, download, skip_bad)
    layer = resolve_layer(loaded.config, layer)
    meta = {"run": str(run), "step": loaded.step, "layer": layer, "source": source or loaded.config.data.source,
            "split": split} | ({"data_dir": data_dir} if data_dir else {})
    written = encode_rows(loaded, rows, layer, out, meta, shard_rows=shard_size)
    _report_written(written, layer, getattr(rows, "skipped", []))


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@layer_option
@device_option
@_feature_out_options
@threads_option
def embed(run, inputs, layer, device, out, shard_size, n_threads):
    """Encode image files or folders into a feature file (.npz, or shards in a folder).

    Files are converted to the run's channels and size exactly as in training.
    """
    _set_threads(n_threads)
    from bigan_repr.data.rows import FileRows
    from bigan_repr.features.encode_job import encode_rows
    from bigan_repr.features.encoder import image_files, load_encoder

    loaded = load_encoder(run, device=device)
    rows = FileRows(image_files(inputs), None, loaded.image_shape)
    layer = resolve_layer(loaded.config, layer)
    meta = {"run": str(run), "step": loaded.step, "layer": layer}
    written = encode_rows(loaded, rows, layer, out, meta, shard_rows=shard_size)
    _report_written(written, layer, [])


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="print a list of {file, class, probability} on stdout")
@device_option
@threads_option
def predict(run, inputs, as_json, device, n_threads):
    """The class of each image file by a semi-supervised run's classifier, with its probability.

    Files and folders are read as `bigan embed` reads them; the run must have been trained with
    --labels-per-class. Text lines are tab-separated (file, class, probability), with a backslash,
    newline, tab or other control character in a name escaped (\\\\, \\n, \\t, \\xNN); --json gives
    the names exactly.
    """
    _set_threads(n_threads)
    from bigan_repr.features.encoder import load_encoder
    from bigan_repr.features.predict import as_text, predict_files

    predictions = predict_files(load_encoder(run, device=device), list(inputs))
    click.echo(json.dumps(predictions, indent=2, allow_nan=False) if as_json else as_text(predictions))


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.argument("inputs", nargs=-1, type=click.Path(exists=True))
@click.option("--split", type=click.Choice(SPLITS), default=None,
              help="cluster a split of the run's data source instead of files")
@click.option("--json", "as_json", is_flag=True, help="print a list of {id, cluster, probability} on stdout")
@device_option
@threads_option
def cluster(run, inputs, split, as_json, device, n_threads):
    """The cluster of each image (file, or row of --split) and its probability.

    A run trained with --prior mixed:K clusters by E's categorical head; any other run by k-means on its
    exported layer, in the space its report found best, fitted once on the training split and kept in
    the run (clusters.npz), so that every call assigns alike. Text lines are tab-separated, escaped as
    `bigan predict`'s are.
    """
    if bool(inputs) == bool(split):
        raise UserError("bigan cluster: give image files or folders, or --split, not both and not neither")
    _set_threads(n_threads)
    from bigan_repr.data.rows import FileRows
    from bigan_repr.features.clusters import cluster_rows
    from bigan_repr.features.encoder import image_files, load_encoder, rows_for
    from bigan_repr.features.predict import escaped

    loaded = load_encoder(run, device=device)
    rows = rows_for(loaded, None, split) if split else FileRows(image_files(inputs), None, loaded.image_shape)
    assigned, how = cluster_rows(loaded, rows)
    if as_json:
        click.echo(json.dumps(assigned, indent=2, allow_nan=False))
        return
    click.echo(f"clusters by {how}", err=True)
    click.echo("\n".join(f"{escaped(r['id'])}\t{r['cluster']}\t{r['probability']:.4f}" for r in assigned))


@main.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--format", "fmt", required=True, type=click.Choice(EXPORT_FORMATS),
              help="torchscript or onnx: the network; safetensors: its weights, the config as metadata")
@layer_option
@click.option("--checkpoint", type=click.Path(dir_okay=False, exists=True), help="a checkpoint file (default: best)")
@click.option("--classifier", is_flag=True, help="export a semi-supervised run's classifier: class probabilities "
                                                 "(N, K) instead of features")
@click.option("--out", required=True, type=OutputPath("file"), help="the file to write")
def export(run, fmt, layer, checkpoint, classifier, out):
    """Export the encoder for programs that do not import this package.

    The network takes uint8 images (N, C, H, W) in the run's channels and size, converts them as
    in training, and returns float32 features (N, d); the batch size is free.
    """
    from bigan_repr.features.export import export_encoder

    export_encoder(run, fmt, out, layer=layer, checkpoint=checkpoint, classifier=classifier)
    click.echo(f"wrote {fmt} {'classifier' if classifier else 'encoder'} to {out}", err=True)


index_option = click.option(
    "--index", default=DEFAULT_PROTOCOL.index, show_default=True,
    help="nearest-neighbour search index: auto, flat, ivf or hnsw, optionally with parameters "
         "(e.g. ivf:nlist=4096,nprobe=64); auto is exact search for smaller databases")


@main.command()
@click.argument("database", type=click.Path(exists=True))
@click.argument("queries", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--k", type=number_type(int, LIMITS["k"]), default=8, show_default=True, help="neighbours per query")
@click.option("--json", "as_json", is_flag=True, help="print machine-readable results on stdout")
@click.option("--grid", type=OutputPath("file", example="neighbors.png"),
              help="also write a PNG: each query, then its neighbours")
@device_option
@index_option
@threads_option
def neighbors(database, queries, k, as_json, grid, device, index, n_threads):
    """The nearest training images of query image files.

    DATABASE is a run directory (its training split is encoded now) or a feature file or folder
    from `bigan encode` / `bigan embed`; queries are read as `bigan embed` reads them.
    """
    _set_threads(n_threads)
    from bigan_repr.eval.knn_index import parse_index
    from bigan_repr.features.retrieval import open_database, retrieve
    from bigan_repr.runs.atomic import atomic_write

    parse_index(index)  # refused before the database is encoded
    found = retrieve(open_database(database, device), list(queries), k, index=index)
    if grid:
        png = found.grid_png()
        atomic_write(grid, lambda f: f.write(png))
    click.echo(json.dumps(found.as_dict(), indent=2, allow_nan=False) if as_json else found.as_text())


@main.command("eval")
@click.option("--train", "train_file", required=True, type=click.Path(),
              help="training features: .npz or shard folder")
@click.option("--test", "test_file", required=True, type=click.Path(), help="test features: .npz or shard folder")
@click.option("--k", type=number_type(int, LIMITS["k"]), default=DEFAULT_PROTOCOL.k, show_default=True,
              help="neighbours for weighted k-NN")
@click.option("--out", type=OutputPath("folder", REPORT_FILES), help="also write report.json/report.md here")
@index_option
@click.option("--probe-backend", type=click.Choice(list(BACKENDS)), default=DEFAULT_PROTOCOL.probe_backend,
              show_default=True,
              help="linear-probe solver (same objective and C selection)")
@with_eval_options
@threads_option
def evaluate_files(train_file, test_file, k, out, index, probe_backend, budgets, n_seeds, restarts, kmeans_spaces,
                   n2d, as_json, n_threads):
    """Evaluate feature files (.npz or shard folders) alone.

    1-NN and weighted k-NN (faiss), linear probe with label budgets, k-means.
    """
    _set_threads(n_threads)
    from bigan_repr.eval import EvalInputError, evaluate, report_payload
    from bigan_repr.features.files import load_feature_file
    from bigan_repr.report.outputs import write_report
    from bigan_repr.runs.progress import phase

    try:
        protocol = _protocol(budgets, n_seeds, restarts, kmeans_spaces, n2d, k=k, index=index,
                             probe_backend=probe_backend)
        train_f, test_f = load_feature_file(train_file), load_feature_file(test_file)
        name = Path(train_file).stem
        with phase(f"eval {name}"):
            results = {name: evaluate(train_f["features"], train_f["labels"], test_f["features"], test_f["labels"],
                                      protocol)}
    except EvalInputError as e:
        raise UserError(str(e)) from None
    if out:
        write_report(out, report_payload(results, title=f"evaluation of {train_file}",
                                          meta={"train": str(train_file), "test": str(test_file)}))
    _print_results(results, as_json)


if __name__ == "__main__":
    main()
