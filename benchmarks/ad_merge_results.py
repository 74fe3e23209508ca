"""Merge rows measured into another results folder into ``benchmarks/ad_effects/results.json``.

    python benchmarks/ad_merge_results.py /tmp/adcrop/ad_cvae_2d /tmp/adcrop/ad_cvae_3d \
        --keep-old _own_crop --note "each scan cropped to its own brain, before 2026-12-01"

Each folder holds a ``results.json`` (and its figures) written by ``benchmarks/ad_effects.py
--results FOLDER``. A row of the same name already here is kept under its name plus
``--keep-old`` (its figures dropped: the new ones take their file names), or replaced without it.
The figures are copied beside ``results.json`` and the tables of ``benchmarks/ad_effects.md``
written again. A strength curve (``--strengths``) replaces the curve of its name alike, and the curves
it touches are drawn again. ``--keys K ...``: only those keys of each new row are added to the row of its
name, every other figure left as it was (a row measured again for figures it lacked).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from ad_tables import plot_curve, read_results, render, write_section  # benchmarks/ (run from there)

from vaegan.foundation.files import write_text_atomic

FIGURES = ("figure", "individual_figure", "individual_fitted_figure")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="--results folders of ad_effects.py")
    parser.add_argument("--into", type=Path, default=Path("benchmarks/ad_effects/results.json"))
    parser.add_argument("--keep-old", default="", help="suffix for the rows the new ones replace")
    parser.add_argument("--note", default="", help="added to the kept rows' settings")
    parser.add_argument("--readme", default="benchmarks/ad_effects.md", help="'' to leave it alone")
    parser.add_argument("--keys", nargs="+", help="add only these keys of each new row to the row of its name")
    args = parser.parse_args(argv)
    saved = read_results(args.into)
    new = [row for folder in args.folders for row in read_results(folder / "results.json")["rows"]]
    if args.keys:
        return _add_keys(saved, new, args)
    replaced = {row["name"] for row in new}
    rows = []
    for row in saved["rows"]:
        if row["name"] in replaced:
            if not args.keep_old:
                continue
            row = {k: v for k, v in row.items() if k not in FIGURES}
            row["name"] += args.keep_old
            row["settings"] = f"{row.get('settings', '')} ({args.note})".strip() if args.note else row["settings"]
        rows.append(row)
    for row in new:
        _copy_figures(row, args.into.parent, FIGURES)
        rows.append(row)
    saved["rows"] = rows
    saved["curves"] = _merged_curves(saved.get("curves", {}), args)
    write_text_atomic(args.into, json.dumps(saved, indent=1))  # an interrupt leaves the old file
    if args.readme:
        write_section(Path(args.readme), render(saved))
    print(f"{args.into}: {len(new)} rows merged, {len(rows)} in all")
    return 0


def _copy_figures(row: dict, folder: Path, keys) -> None:
    """The row's figures of ``keys`` copied into ``folder``, the row then naming the copies."""
    for key in keys:
        if row.get(key):
            target = folder / Path(row[key]).name
            shutil.copy(row[key], target)
            row[key] = str(target)


def _add_keys(saved: dict, new: list[dict], args: argparse.Namespace) -> int:
    """``args.keys`` of each new row added to the saved row of its name; any name not saved is refused first."""
    rows = {row["name"]: row for row in saved["rows"]}
    if missing := [row["name"] for row in new if row["name"] not in rows]:
        raise SystemExit(f"{', '.join(missing)}: no such row in {args.into}; merge it whole (without --keys)")
    for row in new:
        _copy_figures(row, args.into.parent, [key for key in args.keys if key in FIGURES])
        rows[row["name"]].update({key: row[key] for key in args.keys if key in row})
    write_text_atomic(args.into, json.dumps(saved, indent=1))
    if args.readme:
        write_section(Path(args.readme), render(saved))
    print(f"{args.into}: {', '.join(args.keys)} added to {len(new)} rows")
    return 0


def _merged_curves(curves: dict[str, list[dict]], args: argparse.Namespace) -> dict[str, list[dict]]:
    """``curves`` with each folder's curves in place of those of their names (kept under ``--keep-old``), every
    curve of several points drawn again beside ``--into`` (a kept one's figure under its new name)."""
    new = {
        name: curve
        for folder in args.folders
        for name, curve in read_results(folder / "results.json").get("curves", {}).items()
    }
    merged = {}
    for name, curve in curves.items():
        if name in new and args.keep_old:
            note = f" ({args.note})" if args.note else ""
            merged[name + args.keep_old] = [point | {"settings": point["settings"] + note} for point in curve]
        elif name not in new:
            merged[name] = curve
    merged |= new
    for name, curve in merged.items():
        if len(curve) > 1 and (name in new or name.removesuffix(args.keep_old) in new):
            plot_curve(name, curve, args.into.parent / f"{name}_strength.png")
    return merged


if __name__ == "__main__":
    raise SystemExit(main())
