"""How long ``vaegan --help`` and ``vaegan <command> --help`` take before printing, against bare Python.

Each subcommand imports torch and the plotting stack only when it runs, so asking for help
costs little more than starting the interpreter. Prints a Markdown table: median wall time of
``--repeat`` runs per command, and its ratio to ``python -c pass`` measured in the same run.

    python benchmarks/cli_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def subcommands() -> list[str]:
    """Every subcommand the CLI registers (its parser's own list), so none is left untimed."""
    from vaegan.cli import build_parser

    actions = [a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction"]
    return list(actions[0].choices)


COMMANDS = ["", *subcommands()]


def median_seconds(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    vaegan = str(Path(sys.executable).with_name("vaegan"))
    baseline = median_seconds([sys.executable, "-c", "pass"], args.repeat)
    print(f"median of {args.repeat} runs; load average {os.getloadavg()[0]:.1f} at the start; {os.cpu_count()} cores")
    print("| command | seconds (absolute) | ratio to `python -c pass` |")
    print("|---|---:|---:|")
    print(f"| `python -c pass` (reference) | {baseline:.3f} | 1.00 |")
    for command in COMMANDS:
        seconds = median_seconds([vaegan, *([command] if command else []), "--help"], args.repeat)
        print(f"| `vaegan {command + ' ' if command else ''}--help` | {seconds:.3f} | {seconds / baseline:.2f} |")


if __name__ == "__main__":
    main()
