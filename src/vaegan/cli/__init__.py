"""The ``vaegan`` command: one module per subcommand, each registering itself here.

- ``train.py``: ``vaegan train``.
- ``configs.py``: ``vaegan configs`` (the shipped configs, usable by name).
- ``sample.py``: ``vaegan sample`` and ``vaegan reconstruct``.
- ``encode.py``: ``vaegan encode`` (your own images -> codes.npz; the input reading reconstruct shares).
- ``exercises.py``: ``vaegan exercises init|check`` (the course's graded exercises).
- ``check_model.py``: ``vaegan check-model pkg.module:Class`` (the model contract, on your own model).
- ``datasets.py``: ``vaegan datasets``.
- ``tune.py``: ``vaegan tune`` (Optuna hyperparameter search).
- ``visualize.py``: ``vaegan visualize`` (latent-space figures into RUN/latent/).
- ``effects.py``: ``vaegan effects`` (a conditional MRI run's disease maps: NIfTI files and figures).
- ``report.py``: ``vaegan report`` (RUN/report.html).
- ``phantoms.py``: ``vaegan phantoms`` (synthetic CN/AD brains as a BIDS folder).
- ``evaluate.py``: ``vaegan evaluate`` (metrics with floors into RUN/evaluation.json).
- ``classifier.py``: ``vaegan train-classifier`` (the reference classifier evaluate uses).
- ``inputs.py``, ``samples.py``, ``outputs.py``: the work behind encode/reconstruct and sample (imported
  only when the command runs), and what an ``--out`` may name (never a run's own file).

A subcommand module defines ``add_parser(subparsers)`` which sets ``func`` on
its parser; ``main`` dispatches and turns a :class:`VaeganError` into a one-line
message and exit status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
import threading
import traceback

from vaegan.foundation.errors import VaeganError

COMMANDS = [
    "vaegan.cli.train",
    "vaegan.cli.configs",
    "vaegan.cli.sample",
    "vaegan.cli.encode",
    "vaegan.cli.exercises",
    "vaegan.cli.check_model",
    "vaegan.cli.datasets",
    "vaegan.cli.tune",
    "vaegan.cli.visualize",
    "vaegan.cli.effects",
    "vaegan.cli.report",
    "vaegan.cli.phantoms",
    "vaegan.cli.evaluate",
    "vaegan.cli.classifier",
]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="vaegan", description="Train and inspect VAEs and GANs on images.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def check_seed(seed: int) -> int:
    """``--seed``, refused outside what numpy and torch both take (0 to 2**32 - 1)."""
    if not 0 <= seed < 2**32:
        raise VaeganError(f"--seed {seed}: give a seed from 0 to {2**32 - 1}")
    return seed


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (a batch scheduler's time limit) stops as Ctrl-C does: no half-written file


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    handler = (
        signal.signal(signal.SIGTERM, _terminated) if threading.current_thread() is threading.main_thread() else None
    )
    try:
        return args.func(args) or 0
    except VaeganError as error:
        return _fail(args.command, str(error))
    except KeyboardInterrupt:
        print(f"vaegan {args.command}: interrupted", file=sys.stderr)  # train says above which epoch is saved
        return 130
    except OSError as error:
        if error.filename is None:
            raise
        return _fail(args.command, _file_problem(error))
    except Exception as error:
        # torch.OutOfMemoryError (CUDA), without importing torch here, or the CPU allocator's RuntimeError
        if type(error).__name__ != "OutOfMemoryError" and "can't allocate memory" not in str(error):
            raise
        return _fail(args.command, _out_of_memory(error, args.command))
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)


def _fail(command: str, message: str) -> int:
    """Print the message as one line (a multi-line one joined with '; ') and return exit status 2."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    print(f"vaegan {command}: error: {'; '.join(lines)}", file=sys.stderr)
    return 2


def _file_problem(error: OSError) -> str:
    fixes = {
        errno.EACCES: "choose a folder you can write to (--out) or fix its permissions",
        errno.EPERM: "choose a folder you can write to (--out) or fix its permissions",
        errno.EROFS: "the file system is read-only; choose another folder (--out)",
        errno.ENOSPC: "the disk is full; free some space or write elsewhere (--out)",
        errno.EDQUOT: "your disk quota is used up; free some space or write elsewhere (--out)",
        errno.EISDIR: "give a file name, not a folder (--out)",
    }
    fix = fixes.get(error.errno, "check the path and try again")
    return f"{error.filename}: {error.strerror or type(error).__name__}; {fix}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# commands that train: the settings to lower are the config's; the others read a trained run
TRAINING = ("train", "tune", "train-classifier")


def _out_of_memory(error: BaseException, command: str = "train") -> str:
    """Which setting to lower: the traceback says whether training or validation ran out; a command that
    does not train has only its own options and the device to change."""
    if command not in TRAINING:
        where = "on the CPU" if "can't allocate memory" in str(error) else "on the device"
        return (
            f"out of memory {where} ({_first_line(error)}); ask for fewer images at once (--n, --samples, "
            f"fewer scans) or use --device cpu, whose memory is usually larger: vaegan {command} --help"
        )
    frames = {frame.name for frame in traceback.extract_tb(error.__traceback__)}
    if "evaluate" in frames:
        lower = "train.eval_batch_size (validation ran out)"
    elif "train_epoch" in frames:
        lower = "train.batch_size (a training step ran out)"
    else:
        lower = "train.batch_size or train.eval_batch_size"
    if "can't allocate memory" in str(error):  # the CPU allocator: often building a model too big to hold
        return (
            f"out of memory on the CPU ({_first_line(error)}); make the model smaller (model.latent_dim, "
            f"model.network.channels, model.network.hidden) or lower {lower}"
        )
    return (
        f"out of memory on the device; lower {lower}, or make the model smaller "
        "(model.network.channels, model.network.hidden)"
    )


if __name__ == "__main__":
    sys.exit(main())
