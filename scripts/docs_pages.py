"""The documentation pages generated from the code at build time, so they cannot drift from it.

An MkDocs hook (``hooks:`` in mkdocs.yml):

- ``configuration.md``: every config key, from the pydantic fields of ``RunConfig`` and of
  every registered model's config (type, default, description);
- ``cli.md``: every ``vaegan`` subcommand's ``--help``;
- the class diagram of the OOP tour (the block from ``<!-- class-diagram -->`` to
  ``<!-- /class-diagram -->`` in ``oop_tour.md``), drawn by ``class_diagram.py`` beside this file:
  a PNG, and the mermaid ``classDiagram`` that block commits, drawn again from today's models.

Run it alone to print a page: ``python scripts/docs_pages.py configuration``.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "scripts"))  # class_diagram.py: MkDocs loads this hook by its path

from class_diagram import BEGIN, class_diagram, class_figure, with_diagram  # noqa: E402

from vaegan.config import RunConfig  # noqa: E402
from vaegan.foundation.section import Section  # noqa: E402
from vaegan.models import get_model_class, list_models  # noqa: E402


# -- configuration.md --------------------------------------------------------
def type_name(annotation: Any) -> str:
    """A short readable type: Literal choices, constraints, ``X or None``, section names."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{value!r}`" for value in args)
    if origin is typing.Annotated:
        return type_name(args[0]) + limits(annotation.__metadata__)
    if origin in (typing.Union, types.UnionType):
        named = [type_name(arg) for arg in args if arg is not type(None)]
        if all(isinstance(a, type) and issubclass(a, BaseModel) for a in args if a is not type(None)):
            named = ["section"]
        return " or ".join(dict.fromkeys(named)) + (" or None" if type(None) in args else "")
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"tuple[{type_name(args[0])}, ...]"
    if origin is not None and args:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_name(arg) for arg in args)}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def limits(metadata: list[Any]) -> str:
    """Pydantic's numeric constraints as text: `` (> 0)``, `` (>= 0, < 1)``, or nothing."""
    bounds = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    found = [f"{sign} {getattr(m, key)}" for m in metadata for key, sign in bounds.items() if hasattr(m, key)]
    return f" ({', '.join(found)})" if found else ""


def _section_type(annotation: Any) -> type[Section] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Section):
            return candidate
    return None


def field_rows(cls: type[BaseModel], prefix: str = "", skip: tuple[str, ...] = ()) -> list[str]:
    """One table row per leaf field of ``cls``, nested sections flattened to dotted keys."""
    rows = []
    for name, field in cls.model_fields.items():
        if name in skip:
            continue
        key = f"{prefix}{name}"
        sub = _section_type(field.annotation)
        if sub is not None and name != "model":
            rows.extend(field_rows(sub, f"{key}."))
            continue
        default = "required" if field.is_required() else f"`{field.get_default(call_default_factory=True)!r}`"
        description = (field.description or "").replace("|", "\\|")
        kind = type_name(field.annotation) + limits(field.metadata)
        rows.append(f"| `{key}` | {kind} | {default} | {description} |")
    return rows


TABLE_HEAD = ["| key | type | default | meaning |", "|---|---|---|---|"]


def configuration_page() -> str:
    lines = [
        "# Every config key",
        "",
        "Generated from the typed config (the pydantic fields of `RunConfig` and of every registered",
        "model's config) each time the site is built, so it cannot drift from the code. Any key can be",
        "set in a YAML file or overridden on the command line: `--set model.latent_dim=2`.",
        "",
        "## The run",
        "",
        *TABLE_HEAD,
        *field_rows(RunConfig, skip=("model", "tune")),
        "",
        "## `tune`: the hyperparameter search",
        "",
        *TABLE_HEAD,
    ]
    tune = RunConfig.model_fields["tune"].annotation
    lines += field_rows(_section_type(tune), "tune.")
    lines += ["", "## `model`: one section per registered model", ""]
    for name in list_models():
        cls = get_model_class(name)
        config = cls.config_class
        doc = inspect.getdoc(config) or ""
        lines += [
            f"### `model.name: {name}` ({cls.__name__}, config `{config.__name__}`)",
            "",
            doc.split("\n\n")[0],
            "",
            *TABLE_HEAD,
            *field_rows(config, "model."),
            "",
        ]
    return "\n".join(lines) + "\n"


# -- cli.md ------------------------------------------------------------------
def cli_page() -> str:
    from vaegan.cli import build_parser

    parser = build_parser()
    parser.prog = "vaegan"
    lines = [
        "# The command line",
        "",
        "Every subcommand's `--help`, generated when the site is built. An error in a config, an",
        "input file or a run folder is one line naming it, and exit status 2.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        lines += ["", f"## `vaegan {name}`", "", "```text", sub.format_help().rstrip(), "```"]
        nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
        for action in nested:
            for child, child_parser in action.choices.items():
                lines += ["", f"### `vaegan {name} {child}`", "", "```text", child_parser.format_help().rstrip(), "```"]
    return "\n".join(lines) + "\n"


PAGES = {"configuration.md": configuration_page, "cli.md": cli_page}
FIGURE = "assets/class_diagram.png"


# -- the MkDocs hook -------------------------------------------------------------
def on_files(files, config):
    """Add the generated pages to the site (they exist only in the build, never in docs/)."""
    from mkdocs.structure.files import File

    for name, render in PAGES.items():
        files.append(File.generated(config, name, content=render()))
    files.append(File.generated(config, FIGURE, content=class_figure()))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    """The OOP tour's committed mermaid block, drawn again from today's models, with the PNG before it."""
    if BEGIN in markdown:
        figure = f"![The class hierarchy of every registered model]({FIGURE})"
        online = "The same diagram as a mermaid `classDiagram` (your browser draws it when it is online):"
        markdown = with_diagram(markdown, page.file.src_path, lead=f"{figure}\n\n{online}\n\n")
    return markdown


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "configuration"
    print(class_diagram() if which == "diagram" else PAGES[f"{which}.md"]())
