"""Which study a study folder belongs to: ``study.json``, checked before any trial writes into the folder.

Trial folders are named by Optuna's trial number, which starts at 0 in every
new study; and trials train with overwrite. So a folder must only ever hold the
trials of one study in one storage: a second study, another ``--storage``, or
the same name in a fresh database (a deleted ``study.db``) is refused.
``study.json`` records the study's name, its Optuna id, the storage URL with
its password masked, and a creation stamp the study itself carries (a user
attribute set once by the worker that created it), which tells a fresh study
from the old one of the same name.

Example:
    >>> mask_password("postgresql://me:secret@db/optuna")
    'postgresql://me:***@db/optuna'
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import optuna

from vaegan.foundation.errors import ConfigError
from vaegan.foundation.files import write_text_atomic

RECORD = "study.json"
STAMP = "vaegan_study"  # the study's user attribute: {"uid": ..., "created": ...}
DEFAULT_STORAGE = "sqlite: study.db in the study folder"


def mask_password(url: str) -> str:
    """``url`` with the password (between the user's ':' and the last '@') replaced by ``***``, parsed or not."""
    head, at, host = url.rpartition("@")
    if not at:
        return url
    scheme, slashes, userinfo = head.partition("//")  # the scheme's '//' is the first; a password may hold one
    if not slashes:
        scheme, userinfo = "", head
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{slashes}{user}{':***' if colon else ''}@{host}"


def shown_url(url: str) -> str:
    """``url`` fit to print: the password (up to the host's '@', and in libpq's ``password=`` keyword) ***.

    SQLAlchemy's own masking splits at the first '@', so a password holding '@' was half shown, and it
    leaves ``?password=`` alone.
    """
    return PASSWORD_KEYWORD.sub(r"\1***", mask_password(url))


PASSWORD_KEYWORD = re.compile(r"(?i)([?&](?:password|passwd|sslpassword)=)[^&#]*")


def storage_label(storage: str | None, out: Path) -> str:
    """How study.json names the storage: masked, and the default one by its place in the folder."""
    if storage is None or storage == f"sqlite:///{(out / 'study.db').resolve()}":
        return DEFAULT_STORAGE
    return shown_url(storage)


def read_record(out: Path) -> dict[str, Any] | None:
    path = out / RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: unreadable ({error}); it names this folder's study: restore it") from None
    if not isinstance(record, dict) or not {"study", "storage", "uid"} <= set(record):
        raise ConfigError(f"{path}: not a study record written by vaegan tune; restore it or use another --out")
    return record


def check_folder(out: Path, name: str, label: str) -> None:
    """Before the study is opened: the folder holds no other study name and no other storage."""
    record = read_record(out)
    legacy = out / "study_name.txt"  # what vaegan wrote before study.json
    recorded = record["study"] if record else legacy.read_text().strip() if legacy.is_file() else None
    if recorded is not None and recorded != name:
        raise ConfigError(f"{out} holds study {recorded!r}, not {name!r}; give this study its own --out folder")
    if record is not None and record["storage"] != label:
        raise ConfigError(
            f"{out} holds study {name!r} stored in {record['storage']}, not in {label}; rerun with that "
            "--storage to continue it, or give this study its own --out folder"
        )
    foreign = [p.name for p in (out / "trials.csv", out / "best_config.yaml") if p.exists()]
    if recorded is None and foreign:  # the study would write over them
        raise ConfigError(
            f"{out} holds {', '.join(foreign)} but no {RECORD}: vaegan did not write them, and a study there "
            "would replace them; move them away or give the study its own --out folder"
        )
    out.mkdir(parents=True, exist_ok=True)


def stamp(study: optuna.Study) -> None:
    """Mark a study just created: what tells it from an older study of the same name."""
    study.set_user_attr(STAMP, {"uid": uuid.uuid4().hex, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def stamp_of(study: optuna.Study, wait: float = 10.0) -> dict[str, str]:
    """The creator's stamp; a worker that joined waits a moment for it, and stamps a study made before it."""
    deadline = time.monotonic() + wait
    while not isinstance(study.user_attrs.get(STAMP), dict):
        if time.monotonic() > deadline:
            stamp(study)
            break
        time.sleep(0.2)
    return study.user_attrs[STAMP]


def claim_folder(out: Path, study: optuna.Study, label: str) -> dict[str, Any]:
    """After the study is opened: refuse a fresh study where an old one's trial folders are; write study.json."""
    current = {"study": study.study_name, "study_id": study._study_id, "storage": label, **stamp_of(study)}
    record = read_record(out)
    if record is not None and record["uid"] != current["uid"]:
        raise ConfigError(
            f"{out} holds the trials of study {record['study']!r} created {record.get('created')}, but "
            f"{label} holds a study of that name created {current['created']} (a new database?); its trials "
            "would overwrite the old trial_NNNN folders: give it its own --out folder, or rerun with the "
            "--storage that holds the old study"
        )
    if record is None and not study.trials and any(out.glob("trial_*")):
        raise ConfigError(
            f"{out} holds trial folders of an earlier study, and study {study.study_name!r} in {label} has no "
            "trials yet; its trials would overwrite them: give it its own --out folder"
        )
    if record != current:
        write_text_atomic(out / RECORD, json.dumps(current, indent=2) + "\n")
    return current
