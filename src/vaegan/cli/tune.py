"""``vaegan tune --config C --trials N [--epochs E] [--study NAME] [--storage URL] [--out DIR] [--timeout S]``.

Runs (or joins, or continues) the Optuna study that the config's ``tune``
section describes. Start the same command on several machines with one
``--storage postgresql://...`` URL and they share the study.
"""

from __future__ import annotations

import argparse
import logging
import shlex
from pathlib import Path

from vaegan.cli.train import add_override_arguments, config_from_args
from vaegan.foundation.errors import ConfigError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("tune", help="search hyperparameters with Optuna (the config's tune section)")
    parser.add_argument("--config", required=True, help="YAML run config with a tune section")
    parser.add_argument(
        "--trials",
        type=int,
        default=20,
        help="stop once the study holds this many finished trials, counting earlier runs and other workers "
        "(default 20)",
    )
    parser.add_argument(
        "--epochs", type=int, help="cap each trial's train.epochs (a study keeps the trial length it began with)"
    )
    parser.add_argument("--study", help="study name in the storage (default: the config's name)")
    parser.add_argument("--storage", help="SQLAlchemy URL, e.g. postgresql://user@host/db (default: OUT/study.db)")
    parser.add_argument("--out", help="study folder (default outputs/<study>_tune)")
    parser.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    add_override_arguments(parser, "override any config key of every trial, e.g. --set data.limit=5000 (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import optuna

    from vaegan.tuning.identity import shown_url
    from vaegan.tuning.report import write_outputs
    from vaegan.tuning.study import Tuner

    for flag, value in (("--trials", args.trials), ("--epochs", args.epochs), ("--timeout", args.timeout)):
        if value is not None and not value > 0:  # before a study exists: a bad count must not cost a trial
            raise ConfigError(f"{flag} {value}: must be above 0")
    config = config_from_args(args)
    if not args.verbose:  # one line per trial below replaces Optuna's log (and its tracebacks)
        optuna.logging.set_verbosity(optuna.logging.ERROR)
    if args.study is not None and args.out is None:  # the study's name becomes its folder's
        try:
            from vaegan.training.run_folder import check_name

            check_name(args.study)
        except ValueError as error:
            raise ConfigError(f"--study: {error}") from None
    out = Path(args.out or f"outputs/{args.study or config.name}_tune")
    tuner = Tuner(config, out=out, study_name=args.study, storage=args.storage, max_epochs=args.epochs)
    before = tuner.counted()
    print(f"study {tuner.study.study_name!r} in {shown_url(tuner.storage_url)}: {before} of {args.trials} trials done")
    try:
        tuner.run(args.trials, timeout=args.timeout, callbacks=[_print_trial])
    except KeyboardInterrupt:
        write_outputs(tuner)
        print(f"vaegan tune: interrupted; finished trials are in the study, rerun the same command to go on ({out})")
        return 130
    files = write_outputs(tuner)
    logging.getLogger(__name__).info("wrote %s", ", ".join(map(str, files)))
    if (out / "best_config.yaml").exists():
        best = tuner.study.best_trial
        epoch = f" at epoch {best.user_attrs['epoch']}" if "epoch" in best.user_attrs else ""
        print(f"best: trial {best.number}, {tuner.tune.metric}={best.value:.5g}{epoch}, {best.params}")
        print(f"train it: vaegan train --config {shlex.quote(str(out / 'best_config.yaml'))}")
    names = ", ".join(path.name for path in files) or "nothing yet"
    print(f"{out}: {names}; {tuner.counted()} trials finished")
    return 0


def _print_trial(study, trial) -> None:
    if trial.user_attrs.get("surplus"):  # begun after other workers had claimed the whole budget: never trained
        print(f"trial {trial.number} not run: the budget was already taken by other workers", flush=True)
        return
    state = trial.state.name
    if state == "COMPLETE":
        detail = f"value={trial.value:.5g}"
    elif state == "PRUNED":
        detail = f"pruned after {len(trial.intermediate_values)} epochs"
    else:
        detail = trial.user_attrs.get("fail_reason", "")
    print(f"trial {trial.number} {state}: {detail} {trial.params}", flush=True)
