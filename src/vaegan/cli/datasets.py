"""``vaegan datasets``: each known dataset, where it was found, or what is missing."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("datasets", help="list known datasets and where their files are")
    parser.add_argument("--data-dir", help="folder searched first")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaegan.data import describe_datasets

    for row in describe_datasets(args.data_dir):
        if row["status"] == "found":
            print(f"{row['name']:<16} found    {row['path'] or '(generated, no files needed)'}")
        else:
            print(f"{row['name']:<16} missing  {', '.join(row['missing'])}")
            print(f"{'':<16}          searched: {', '.join(row['searched'])}")
            if row.get("hint"):
                print(f"{'':<16}          {row['hint']}")
    return 0
