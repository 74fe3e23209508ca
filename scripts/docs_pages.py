"""The documentation pages generated from the code at build time, so they cannot drift from it.

An MkDocs hook (``hooks:`` in mkdocs.yml):

- ``configuration.md``: every config key, from the pydantic fields of ``RunConfig`` and of
  every registered model's config (type, default, description);
- ``cli.md``: every ``vaegan`` subcommand's ``--help``;
- the class diagram of the OOP tour (``<!-- class-diagram -->`` in ``oop_tour.md``), from
  ``list_models()`` and each class's ``__mro__``, with the capabilities each class sets and the
  methods it defines: a PNG drawn with matplotlib (it needs no network) and the same diagram as
  a mermaid ``classDiagram`` (drawn by the browser when it is online).

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
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from vaegan.config import RunConfig  # noqa: E402
from vaegan.foundation.section import Section  # noqa: E402
from vaegan.models import get_model_class, list_models  # noqa: E402

DIAGRAM_MARK = "<!-- class-diagram -->"
CAPABILITIES = ("conditional", "soft_labels", "has_encoder", "probabilistic", "monitor")


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


# -- the class diagram ---------------------------------------------------------
def _own_methods(cls: type) -> list[str]:
    names = []
    for name, value in vars(cls).items():
        if name.startswith("__") or name in ("config_class", "objectives"):
            continue
        if inspect.isfunction(value) or isinstance(value, property | classmethod | staticmethod):
            names.append(name)
    return names


def hierarchy() -> tuple[dict[str, type], set[tuple[str, str]]]:
    """vaegan's classes behind every registered model, and the (base, child) inheritance edges."""
    classes: dict[str, type] = {}
    edges: set[tuple[str, str]] = set()
    for name in list_models():
        for klass in get_model_class(name).__mro__:
            if klass.__module__.startswith("vaegan.") and klass is not object:
                classes[klass.__name__] = klass
                edges.update(
                    (b.__name__, klass.__name__) for b in klass.__bases__ if b.__module__.startswith("vaegan.")
                )
    return classes, edges


def class_diagram() -> str:
    """A mermaid classDiagram: every registered model, its ancestors up to nn.Module, and mixins."""
    classes, edges = hierarchy()
    lines = ["```mermaid", "classDiagram"]
    for base, child in sorted(edges):
        lines.append(f"    {base} <|-- {child}")
    for class_name, klass in sorted(classes.items()):
        members = [f"+{cap} = {vars(klass)[cap]!r}" for cap in CAPABILITIES if cap in vars(klass)]
        members += [f"+{method}()" for method in _own_methods(klass)]
        if getattr(klass, "__abstractmethods__", None):
            members.insert(0, "<<abstract>>")
        if members:
            lines.append(f"    class {class_name} {{")
            lines += [f"        {member}" for member in members]
            lines.append("    }")
    lines.append("```")
    registered = ", ".join(f"`{n}` ({get_model_class(n).__name__})" for n in list_models())
    return "\n".join(lines) + f"\n\nRegistered models: {registered}.\n"


def _layout(classes: dict[str, type], edges: set[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """(x, depth) per class: models as a tree under their model parent, mixins between their children."""
    from vaegan.models import GenerativeModel

    def model_parent(c: str) -> str | None:
        bases = [b for b, child in edges if child == c and issubclass(classes[b], GenerativeModel)]
        return max(bases, key=lambda b: len(classes[b].__mro__), default=None)

    children: dict[str | None, list[str]] = {}
    for c in sorted(classes):
        if issubclass(classes[c], GenerativeModel):
            children.setdefault(model_parent(c), []).append(c)
    place: dict[str, tuple[float, float]] = {}
    next_column = [0.0]

    def visit(c: str, depth: int) -> float:
        kids = children.get(c, [])
        x = sum(visit(k, depth + 1) for k in kids) / len(kids) if kids else next_column[0]
        if not kids:
            next_column[0] += 1.0
        place[c] = (x, depth)
        return x

    for root in children.get(None, []):
        visit(root, 0)
    mixins = [c for c in classes if c not in place]
    if mixins:  # spread the model columns, so a mixin sits in a column of its own between its users
        place = {c: (2 * x, d) for c, (x, d) in place.items()}
    for c in mixins:
        users = [place[child] for b, child in edges if b == c and child in place]
        place[c] = (sum(x for x, _ in users) / len(users), min(d for _, d in users) - 0.5)
    return place


def class_figure() -> bytes:
    """The class diagram as a PNG (matplotlib), drawn without the network a mermaid diagram needs."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes, edges = hierarchy()
    place = _layout(classes, edges)
    columns = max(x for x, _ in place.values()) + 1
    depth = max(d for _, d in place.values()) + 1
    fig, ax = plt.subplots(figsize=(3.2 * columns, 1.9 * depth))
    fig.subplots_adjust(0, 0, 1, 1)
    ax.set_xlim(-0.5, columns - 0.5)
    ax.set_ylim(-depth + 0.3, 0.7)
    ax.axis("off")
    boxes = {}
    for c, (x, d) in place.items():
        own = [f"{cap} = {vars(classes[c])[cap]!r}" for cap in CAPABILITIES if cap in vars(classes[c])]
        methods = [f"{m}()" for m in _own_methods(classes[c])]
        lines = (own + methods)[:7] + (["..."] if len(own + methods) > 7 else [])
        mixin = "" if issubclass(classes[c], nn.Module) else "  (mixin)"
        text = c + mixin + "\n" + "\n".join(lines)
        boxes[c] = ax.text(
            x,
            -d,
            text,
            ha="center",
            va="top",
            fontsize=8,
            family="monospace",
            linespacing=1.3,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#e8eaf6", "edgecolor": "#3f51b5"},
        )
    fig.canvas.draw()
    to_data = ax.transData.inverted()
    extent = {c: to_data.transform(box.get_bbox_patch().get_window_extent()) for c, box in boxes.items()}
    for base, child in edges:
        (x0, _), (_, top) = extent[child]  # the child's box: its top edge
        (bx0, bottom), (bx1, _) = extent[base]
        cx = (extent[child][0][0] + extent[child][1][0]) / 2
        ax.annotate(
            "",
            xy=((bx0 + bx1) / 2, bottom),
            xytext=(cx, top),
            arrowprops={"arrowstyle": "-|>", "color": "#3f51b5", "lw": 1.2, "mutation_scale": 16},
        )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


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
    if DIAGRAM_MARK in markdown:
        figure = f"![The class hierarchy of every registered model]({FIGURE})"
        online = "The same diagram as a mermaid `classDiagram` (your browser draws it when it is online):"
        markdown = markdown.replace(DIAGRAM_MARK, f"{figure}\n\n{online}\n\n{class_diagram()}")
    return markdown


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "configuration"
    print(class_diagram() if which == "diagram" else PAGES[f"{which}.md"]())
