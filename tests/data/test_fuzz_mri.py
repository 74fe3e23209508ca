"""Property tests of the MRI and image readers: damaged files and tables are bad inputs or DataErrors, nothing else.

Each example writes into its own temporary folder and reads with ``cache=False``,
so nothing lands in a cache.
"""

from __future__ import annotations

import gzip
import io
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.data.mri_files import brain, make_bids, options, write_nifti
from vaegan.data.bad_inputs import BadFile
from vaegan.data.imagefolder import load_image_folder, read_image
from vaegan.data.mri import read_volumes
from vaegan.data.mri_cache import _compute
from vaegan.data.mri_sources import Record
from vaegan.data.mri_transforms import read_volume
from vaegan.foundation.errors import DataError

FUZZ = settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SMALL = (12, 14, 12)  # 4 mm voxels: a 48-56 mm field of view
OPTIONS = options(size=8, spacing=4.0, cache=False)


@st.composite
def damaged(draw, data: bytes, within: int | None = None) -> bytes:
    """``data`` truncated, with bits flipped, with bytes inserted, or with a stretch overwritten.

    ``within``: damage only the first ``within`` bytes (a header).
    """
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "overwrite"]))
    raw = bytearray(data)
    at = draw(st.integers(0, min(len(raw), within or len(raw)) - 1))
    if kind == "truncate":
        return bytes(raw[:at])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 6))):
            raw[draw(st.integers(0, min(len(raw), within or len(raw)) - 1))] ^= 1 << draw(st.integers(0, 7))
    elif kind == "insert":
        raw[at:at] = draw(st.binary(min_size=1, max_size=16))
    else:
        chunk = draw(st.binary(min_size=1, max_size=16))
        raw[at : at + len(chunk)] = chunk
    return bytes(raw)


NIFTIS = {
    dtype: nib.Nifti1Image(brain(0, shape=SMALL).astype(dtype), np.diag([4.0, 4.0, 4.0, 1.0])).to_bytes()
    for dtype in ("float32", "int16", "uint8")
}


@FUZZ
@given(dtype=st.sampled_from(sorted(NIFTIS)), where=st.sampled_from(["header", "file", "gzip"]), data=st.data())
def test_damaged_nifti_is_a_bad_file_or_a_good_volume(dtype, where, data):
    """Damage in the 352-byte header (then maybe gzipped), anywhere in the file, or in its gzip stream."""
    original = NIFTIS[dtype]
    if where == "gzip":
        content = data.draw(damaged(gzip.compress(original)))
    else:
        content = data.draw(damaged(original, within=352 if where == "header" else None))
        content = gzip.compress(content) if data.draw(st.booleans()) else content
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("sub-01_T1w.nii.gz" if content[:2] == b"\x1f\x8b" else "sub-01_T1w.nii")
        path.write_bytes(content)
        try:
            image, affine = read_volume(path)
            assert np.isfinite(image).all() and image.ndim == 3 and affine.shape == (4, 4)
        except BadFile as error:
            assert str(error) and "\n" not in str(error)
        # the whole per-file step never raises: a volume of the right shape, or a one-line reason
        entry, _ = _compute(Record(path, "sub-01", 0), OPTIONS, None)
        if "reason" in entry:
            assert entry["reason"] and "\n" not in entry["reason"]
        else:
            volume = entry["volume"].float()
            assert volume.shape == (1, 8, 8, 8) and torch.isfinite(volume).all()
            assert 0.0 <= float(volume.min()) and float(volume.max()) <= 1.0


def _loads_or_data_error(load) -> None:
    try:
        load()
    except DataError as error:
        assert str(error) and "Traceback" not in str(error)


TABLE_TEXT = st.text(alphabet=st.sampled_from(list("sub-01234ADCN\t,\n\r\"' nan/aé\x00;")), max_size=120)


@FUZZ
@given(header=st.sampled_from(["participant_id\tdiagnosis\n", "participant_id\tdx\n", ""]), body=TABLE_TEXT)
def test_any_participants_table_loads_or_raises_data_error(header, body):
    with tempfile.TemporaryDirectory() as folder:
        root = make_bids(Path(folder) / "bids", {"sub-01": "CN", "sub-02": "AD"})
        (root / "participants.tsv").write_text(header + body, encoding="utf-8")
        _loads_or_data_error(lambda: read_volumes(root, OPTIONS.model_copy(update={"spacing": 2.0})))


@FUZZ
@given(header=st.sampled_from(["path,label,subject\n", "path,label\n", "label\n", ""]), body=TABLE_TEXT)
def test_any_csv_loads_or_raises_data_error(header, body):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_nifti(root / "a.nii.gz", brain(0))
        write_nifti(root / "b.nii.gz", brain(1))
        rows = "a.nii.gz,CN,s1\nb.nii.gz,AD,s2\n" if header.startswith("path") else ""
        (root / "list.csv").write_text(header + rows + body, encoding="utf-8")
        _loads_or_data_error(lambda: read_volumes(root / "list.csv", OPTIONS.model_copy(update={"spacing": 2.0})))


def png_bytes(mode: str) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (10, 12, 3) if mode == "RGB" else (10, 12), dtype=np.uint8)
    image = Image.fromarray(pixels if mode != "I;16" else pixels.astype(np.uint16) * 200)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if mode != "TIFF" else "TIFF")
    return buffer.getvalue()


IMAGES = {mode: png_bytes(mode) for mode in ("L", "RGB", "I;16", "TIFF")}


@FUZZ
@given(mode=st.sampled_from(sorted(IMAGES)), data=st.data())
def test_damaged_images_are_bad_files_or_skipped(mode, data):
    content = data.draw(damaged(IMAGES[mode]))
    suffix = ".tif" if mode == "TIFF" else ".png"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for cls in ("AD", "CN"):
            for subject in range(3):
                (root / cls).mkdir(exist_ok=True)
                (root / cls / f"sub-{cls}{subject}{suffix}").write_bytes(IMAGES[mode])
        odd = root / "CN" / f"sub-odd{suffix}"
        odd.write_bytes(content)
        try:
            array = read_image(odd)
            assert array.ndim == 3 and np.isfinite(array).all() and 0.0 <= array.min() <= array.max() <= 1.0
        except BadFile as error:
            assert "\n" not in str(error)
        _loads_or_data_error(lambda: load_image_folder(root, mri=OPTIONS.model_copy(update={"test_size": 0.34})))
