"""``vaegan exercises init DIR`` writes a student workspace; ``vaegan exercises check DIR`` grades it."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("exercises", help="the course's graded exercises: init a workspace, check it")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="write the exercise files into DIR")
    init.add_argument("dir", help="the workspace folder, e.g. my_exercises")
    init.add_argument("--force", action="store_true", help="overwrite exercise files that exist (your work!)")
    init.set_defaults(func=run_init)
    check = actions.add_parser("check", help="grade the exercises in DIR: a scoreboard per exercise")
    check.add_argument("dir", help="the workspace folder")
    check.add_argument(
        "--verbose", dest="every_check", action="store_true", help="every check, not only the first that fails"
    )
    check.set_defaults(func=run_check)


def run_init(args: argparse.Namespace) -> int:
    from vaegan.exercises.workspace import init_workspace

    *exercises, guide = init_workspace(args.dir, force=args.force)
    print(f"wrote {len(exercises)} exercises to {args.dir}/ (see its {guide.name}); grade them with:")
    print(f"  vaegan exercises check {args.dir}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from vaegan.exercises.workspace import grade, scoreboard

    results = grade(args.dir)
    print(scoreboard(results, verbose=args.every_check))
    return 0 if all(r.passed for r in results) else 1
