"""Issue 6, data uploads: hostile CSVs and images through the Train page's sidebar uploader.

A rejected file gets one clear message that names the file and the row or column at fault, and the
previously loaded dataset stays in place. Awkward but valid files (semicolons, a byte order mark,
duplicated column names, a million rows) are read correctly, with a notice where data was changed.
"""

import io
import time
import tomllib

import numpy as np
import pytest
from app_helpers import (
    ROOT,
    USER_DATA,
    messages,
    new_app,
    run_until,
    status,
    step_of,
    stop_all_jobs,
    texts,
    upload,
    uploader,
)
from PIL import Image

from dashboard.state import Key
from flowcore import datasets

pytestmark = pytest.mark.usefixtures("own_sessions")

KEY = "upload-data"
ROWS = "".join(f"{i},{(i * i) % 7}\n" for i in range(30))  # 30 rows, both columns vary
GOOD = "a,b,c\n" + "".join(f"{i % 7},{(i * 3) % 11},{i % 5 + 0.5}\n" for i in range(200))


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


NOISE_PNG = png(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), "u1")))
WIDE = "\n".join(",".join(str(v) for v in row)
                 for row in np.random.default_rng(1).integers(0, 1000, (20, 100)))


def upload_limit_bytes() -> int:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    return int(config["server"]["maxUploadSize"]) * 2**20


# (case, file name, bytes, words the message must contain)
REJECTED = [
    ("NaN cell", "nan.csv", ("x,y\n" + ROWS.replace("6,1\n", "6,nan\n")).encode(),
     ["row 8", "column 2 ('y')", "nan"]),
    ("inf cell", "inf.csv", ("x,y\n" + ROWS.replace("6,1\n", "inf,1\n")).encode(),
     ["row 8", "column 1 ('x')", "inf"]),
    ("-inf cell", "ninf.csv", ("x,y\n" + ROWS.replace("6,1\n", "6,-inf\n")).encode(),
     ["row 8", "column 2 ('y')", "inf"]),
    ("text cell", "text.csv", ("x,y\n" + ROWS + "3,abc\n").encode(),
     ["row 32", "column 2 ('y')", "'abc'"]),
    ("empty cell", "hole.csv", ("x,y\n" + ROWS + "3,\n").encode(),
     ["row 32", "column 2 ('y')", "empty"]),
    ("text without header", "noheader.csv", (ROWS + "7,seven\n").encode(),
     ["row 31", "column 2", "'seven'"]),
    ("one column", "one.csv", ("x\n" + "".join(f"{i}\n" for i in range(30))).encode(),
     ["1 column", "row 1", "at least 2"]),
    ("header only", "header.csv", b"x,y\n", ["header row (x, y)", "no data rows"]),
    ("ragged row", "ragged.csv", ("x,y\n" + ROWS + "1,2,3\n").encode(),
     ["row 32", "3 cells", "header"]),
    ("too few rows", "short.csv", b"x,y\n1,2\n3,4\n5,6\n", ["3 data row", "at least 10"]),
    ("constant column", "flat.csv", ("a,b\n" + "".join(f"{i},7\n" for i in range(30))).encode(),
     ["column 2 ('b')", "same value"]),
    ("semicolons with decimal commas", "euro.csv",
     ("x;y\n" + "".join(f"{i},5;{i % 7},25\n" for i in range(30))).encode(),
     ["row 2", "column 1 ('x')", "decimal"]),
    ("empty file", "empty.csv", b"", ["empty"]),
    ("not UTF-8", "latin1.csv", ("x,y\n" + ROWS + "caf\xe9,3\n").encode("latin-1"),
     ["not UTF-8", "0xe9"]),
    ("binary renamed .csv", "binary.csv", bytes(range(256)) * 16, ["not UTF-8"]),
    ("NUL bytes", "nul.csv", ("x,y\n" + ROWS).encode() + b"\x00\x00", ["NUL"]),
    ("more columns than a flow takes", "wide.csv", WIDE.encode(), ["100 columns", "64"]),
    ("image that is not an image", "photo.png", b"\x89PNG\r\n\x1a\n" + bytes(500),
     ["not an image"]),
    ("CSV renamed .png", "points.png", ("x,y\n" + ROWS).encode(), ["not an image"]),
    ("random bytes .jpg", "noise.jpg", np.random.default_rng(2).bytes(3000), ["not an image"]),
    ("truncated PNG", "cut.png", NOISE_PNG[: len(NOISE_PNG) // 2], ["damaged or truncated"]),
    ("decompression bomb", "bomb.png", png(Image.new("1", (7000, 7000), 0)),
     ["49,000,000", "pixels"]),
    ("blank image", "white.png", png(Image.new("RGB", (30, 30), "white")), ["no dark pixels"]),
]


@pytest.fixture(scope="module")
def app():
    at = new_app()
    at.selectbox(key="dataset").select(USER_DATA).run()
    upload(at, KEY, "good.csv", GOOD.encode(), "text/csv")
    assert not at.exception and not at.error, messages(at)
    assert at.session_state[Key.USER_DATASET].columns == ("a", "b", "c")
    yield at
    stop_all_jobs()


def test_upload_limit_agrees_with_flowcore():
    """Streamlit's upload limit (config.toml) and flowcore's CSV limit are the same size."""
    assert upload_limit_bytes() == datasets.MAX_CSV_BYTES, (
        f".streamlit/config.toml allows {upload_limit_bytes():,} bytes but "
        f"flowcore.datasets.MAX_CSV_BYTES is {datasets.MAX_CSV_BYTES:,}")


def test_the_uploader_uses_the_configured_limit(app):
    assert uploader(app, KEY).proto.max_upload_size_mb * 2**20 == upload_limit_bytes()


@pytest.mark.parametrize("case", [c[0] for c in REJECTED])
def test_bad_data_is_rejected_naming_the_place_and_keeps_the_previous_data(app, case):
    _, name, data, words = next(c for c in REJECTED if c[0] == case)
    before = app.session_state[Key.USER_DATASET]
    upload(app, KEY, name, data, "text/csv")
    assert not app.exception, f"{case}: {[str(e.value) for e in app.exception]}"
    errors = messages(app)
    assert len(errors) == 1, f"{case}: {errors}"
    message = errors[0]
    assert name in message and "previous data" in message, message
    for word in words:
        assert word in message, f"{case}: {word!r} not in {message!r}"
    assert app.session_state[Key.USER_DATASET] is before, f"{case}: the previous data was replaced"


def test_a_file_over_the_upload_limit_is_rejected(app):
    limit = upload_limit_bytes()
    assert limit >= datasets.MAX_CSV_BYTES, "see test_upload_limit_agrees_with_flowcore"
    line = b"1.5,2.5\n"
    data = b"x,y\n" + line * ((limit - 4) // len(line) + 1)
    assert len(data) > limit
    before = app.session_state[Key.USER_DATASET]
    upload(app, KEY, "big.csv", data, "text/csv")
    assert not app.exception
    errors = messages(app)
    assert len(errors) == 1 and "big.csv" in errors[0] and "larger than" in errors[0], errors
    assert app.session_state[Key.USER_DATASET] is before


def test_a_rejected_file_is_not_parsed_again_on_every_rerun(app, monkeypatch):
    """The error stays on screen, but later reruns (any click) do not re-read the bad file."""
    calls = []
    real = datasets.from_csv
    monkeypatch.setattr(datasets, "from_csv", lambda *a, **k: calls.append(1) or real(*a, **k))
    upload(app, KEY, "again.csv", ("x,y\n" + ROWS + "1,oops\n").encode(), "text/csv")
    assert len(calls) == 1 and len(messages(app)) == 1
    for _ in range(3):
        app.run()
    assert len(calls) == 1, f"the rejected file was parsed {len(calls)} times in 4 runs"
    assert messages(app) and "again.csv" in messages(app)[0]


# (case, file name, bytes, expected columns, words a notice must contain, or None)
ACCEPTED = [
    ("semicolon separator", "semi.csv", ("x;y\n" + ROWS.replace(",", ";")).encode(), ("x", "y"),
     None),
    ("tab separator", "tab.tsv.csv", ("x\ty\n" + ROWS.replace(",", "\t")).encode(), ("x", "y"),
     None),
    ("UTF-8 byte order mark", "bom.csv", ("\ufeffx,y\n" + ROWS).encode(), ("x", "y"), None),
    ("BOM, semicolons and CRLF", "excel.csv",
     ("\ufeffx;y\r\n" + ROWS.replace(",", ";").replace("\n", "\r\n")).encode(), ("x", "y"), None),
    ("duplicated columns", "dup.csv", ("x,x,x\n" + "".join(
        f"{i},{(i * i) % 7},{i % 3}\n" for i in range(30))).encode(), ("x", "x_2", "x_3"),
     ["'x'", "x_2"]),
    ("quoted header", "quoted.csv", ('"x","y"\n' + ROWS).encode(), ("x", "y"), None),
]


@pytest.mark.parametrize("case", [c[0] for c in ACCEPTED])
def test_awkward_but_valid_csv_is_read(app, case):
    _, name, data, columns, notice = next(c for c in ACCEPTED if c[0] == case)
    upload(app, KEY, name, data, "text/csv")
    assert not app.exception and not app.error, messages(app)
    ds = app.session_state[Key.USER_DATASET]
    assert ds.columns == columns and ds.data.shape == (30, len(columns))
    assert np.isfinite(ds.data).all()
    if notice:
        shown = texts(app)
        for word in notice:
            assert word in shown, f"{case}: the notice {word!r} is not shown: {shown[-500:]}"


def test_a_million_rows_are_subsampled_with_a_notice(app):
    rows = 10**6
    body = "".join(f"{i % 977},{(i * 7919) % 1009}\n" for i in range(rows))
    data = ("x,y\n" + body).encode()
    assert len(data) <= upload_limit_bytes()
    started = time.perf_counter()
    upload(app, KEY, "million.csv", data, "text/csv")
    seconds = time.perf_counter() - started
    assert not app.exception and not app.error, messages(app)
    ds = app.session_state[Key.USER_DATASET]
    assert ds.data.shape == (datasets.MAX_ROWS, 2)
    shown = texts(app)
    assert "1,000,000 rows" in shown and f"{datasets.MAX_ROWS:,}" in shown, shown[-500:]
    print(f"1,000,000-row CSV ({len(data) / 2**20:.1f} MB) read in {seconds:.1f} s")


def test_an_image_upload_becomes_the_dataset(app):
    image = Image.new("L", (40, 20), 255)
    image.paste(0, (0, 0, 10, 10))
    upload(app, KEY, "square.png", png(image), "image/png")
    assert not app.exception and not app.error, messages(app)
    assert isinstance(app.session_state[Key.USER_DATASET], datasets.ImageDensity)


def test_the_previous_dataset_trains_after_all_the_rejections(app):
    upload(app, KEY, "good.csv", GOOD.encode(), "text/csv")
    for case in ("NaN cell", "image that is not an image"):
        _, name, data, _ = next(c for c in REJECTED if c[0] == case)
        upload(app, KEY, name, data)
        assert messages(app) and app.session_state[Key.USER_DATASET].columns == ("a", "b", "c")
    app.button(key="reset").click().run()
    assert not app.exception
    app.button(key="train").click().run()
    assert run_until(app, lambda a: step_of(a) >= 3, timeout=60), status(app)
    app.button(key="pause").click().run()
    assert not app.exception


def test_extreme_but_finite_values_train_without_an_exception():
    """Values near float32's limit are valid data: Reset and Train must not raise."""
    app = new_app()
    app.selectbox(key="dataset").select(USER_DATA).run()
    text = "x,y\n" + "".join(f"{(i % 13) * 2e37:g},{(i * i) % 7}\n" for i in range(60))
    upload(app, KEY, "extreme.csv", text.encode(), "text/csv")
    assert not app.exception, [str(e.value) for e in app.exception]
    if messages(app):  # a clear rejection naming the column would also do
        assert "column 1" in messages(app)[0]
        return
    app.button(key="reset").click().run()
    assert not app.exception, [str(e.value) for e in app.exception]
    app.button(key="train").click().run()
    assert run_until(app, lambda a: step_of(a) >= 5 or "diverged" in status(a), timeout=60)
    assert "nan" not in status(app).lower()
    app.button(key="pause").click().run()
    stop_all_jobs()
