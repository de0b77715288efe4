"""Render the reports of one scan to pictures, to look at what users will see.

    python scripts/render_check.py OUTPUT_DIR

OUTPUT_DIR/report.html -> report.png (a full-page screenshot, 1400 px wide, by headless
Chromium), report.html.pdf (Chromium's print layout, A4) and report.html-N.png (its pages).
OUTPUT_DIR/report.xlsx, when present -> report.xlsx.pdf (LibreOffice) and report.xlsx-N.png
(pdftoppm, 60 dpi).

Prints the files it produced. Exits 1 with a one-line message when a tool is missing, a
conversion fails or a conversion produces an empty file. Debian packages: chromium,
libreoffice-calc, poppler-utils.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

WIDTH = 1400
FIRST_HEIGHT = 4000
MAX_HEIGHT = 64000
TIMEOUT = 300
MARGIN = 24  # px of background kept below the page when the screenshot is trimmed


class CheckError(Exception):
    """One line for the user: what is missing or what failed."""


def tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise CheckError(f"{names[0]} is not installed (looked for: {', '.join(names)})")


def run(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                                check=False)
    except subprocess.TimeoutExpired:
        raise CheckError(f"{what}: timed out after {TIMEOUT} s") from None
    except OSError as exc:
        raise CheckError(f"{what}: cannot run {command[0]}: {exc.strerror or exc}") from None
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise CheckError(f"{what}: exit code {result.returncode}"
                         + (f": {lines[-1].strip()}" if lines else ""))


def produced(path: Path, what: str) -> Path:
    if not path.is_file() or path.stat().st_size == 0:
        raise CheckError(f"{what}: produced no file or an empty one ({path})")
    return path


# -- Chromium -----------------------------------------------------------------------------


def chromium(arguments: list[str], what: str) -> None:
    binary = tool("chromium", "chromium-browser", "google-chrome")
    with tempfile.TemporaryDirectory(prefix="render-check-chromium-") as profile:
        run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={profile}", *arguments], what)


def print_pdf(html: Path, target: Path) -> Path:
    target.unlink(missing_ok=True)
    chromium(["--no-pdf-header-footer", f"--print-to-pdf={target}", html.resolve().as_uri()],
             f"printing {html.name} to PDF")
    path = produced(target, f"printing {html.name} to PDF")
    if not path.read_bytes()[:5] == b"%PDF-":
        raise CheckError(f"printing {html.name} to PDF: {target} is not a PDF")
    return path


def screenshot(html: Path, target: Path) -> Path:
    """A screenshot tall enough for the whole page: grown until the bottom is background."""
    height = FIRST_HEIGHT
    while True:
        target.unlink(missing_ok=True)
        chromium([f"--screenshot={target}", f"--window-size={WIDTH},{height}",
                  html.resolve().as_uri()], f"screenshot of {html.name}")
        produced(target, f"screenshot of {html.name}")
        content = content_height(target.read_bytes())
        if content is None:  # not a PNG this script can measure: keep it as it is
            return target
        if content + MARGIN < height:
            trim_png(target, content + MARGIN)
            return target
        if height >= MAX_HEIGHT:
            return target
        height = min(height * 2, MAX_HEIGHT)


# -- PNG: measure and trim without decoding every pixel ------------------------------------

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    chunks, offset = [], 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunks.append((kind, data[offset + 8:offset + 8 + length]))
        offset += 12 + length
    return chunks


def _rows(data: bytes) -> tuple[dict[str, int], bytes, int] | None:
    """The header, the decompressed (still filtered) rows and the bytes per row."""
    try:
        chunks = _chunks(data)
    except (ValueError, struct.error):
        return None
    header = next((body for kind, body in chunks if kind == b"IHDR"), None)
    if header is None or len(header) != 13:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if interlace or colour not in _CHANNELS:
        return None
    stride = 1 + (width * _CHANNELS[colour] * depth + 7) // 8
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    info = {"width": width, "height": height, "depth": depth, "colour": colour}
    return info, raw, stride


def content_height(data: bytes) -> int | None:
    """Rows down to the last one that differs from the row above it.

    A row equal to the one above is encoded as filter Up with all-zero bytes by an adaptive
    encoder (that is the cheapest encoding), so the uniform band below the page is found
    without unfiltering a pixel. A row that is equal but encoded otherwise only keeps a
    little more background: the measure never cuts content.
    """
    parsed = _rows(data)
    if parsed is None:
        return None
    info, raw, stride = parsed
    same = b"\x02" + bytes(stride - 1)
    row = min(info["height"], len(raw) // stride)
    while row > 1 and raw[(row - 1) * stride:row * stride] == same:
        row -= 1
    return row


def trim_png(path: Path, height: int) -> None:
    """Keep the first `height` rows (filters only look up, so the rows above stay valid)."""
    data = path.read_bytes()
    parsed = _rows(data)
    if parsed is None:
        return
    info, raw, stride = parsed
    height = min(height, info["height"])

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", info["width"], height, info["depth"], info["colour"],
                         0, 0, 0)
    others = [(k, b) for k, b in _chunks(data) if k not in (b"IHDR", b"IDAT", b"IEND")]
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    out += b"".join(chunk(k, b) for k, b in others)
    out += chunk(b"IDAT", zlib.compress(raw[:height * stride], 6)) + chunk(b"IEND", b"")
    temporary = path.with_suffix(".trim.png")
    temporary.write_bytes(out)
    temporary.replace(path)


# -- PDF pages and the workbook ------------------------------------------------------------


def pdf_pages(pdf: Path, prefix: Path) -> list[Path]:
    """pdftoppm -png -r 60: one PNG per page, named prefix-N.png."""
    binary = tool("pdftoppm")
    for old in prefix.parent.glob(f"{prefix.name}-*.png"):
        old.unlink()
    run([binary, "-png", "-r", "60", str(pdf), str(prefix)], f"rasterizing {pdf.name}")
    pages = sorted(prefix.parent.glob(f"{prefix.name}-*.png"),
                   key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    if not pages:
        raise CheckError(f"rasterizing {pdf.name}: pdftoppm produced no page")
    return [produced(p, f"rasterizing {pdf.name}") for p in pages]


def workbook_pdf(workbook: Path, target: Path) -> Path:
    binary = tool("libreoffice", "soffice")
    what = f"converting {workbook.name} to PDF"
    with tempfile.TemporaryDirectory(prefix="render-check-lo-") as work:
        profile = Path(work, "profile").as_uri()
        outdir = Path(work, "out")
        run([binary, f"-env:UserInstallation={profile}", "--headless", "--norestore",
             "--convert-to", "pdf", "--outdir", str(outdir), str(workbook)], what)
        result = produced(outdir / f"{workbook.stem}.pdf", what)
        target.unlink(missing_ok=True)
        shutil.move(str(result), target)
    return target


def check(directory: Path) -> list[Path]:
    html = directory / "report.html"
    workbook = directory / "report.xlsx"
    if not html.is_file() and not workbook.is_file():
        raise CheckError(f"{directory}: no report.html or report.xlsx to render")
    made: list[Path] = []
    if html.is_file():
        made.append(screenshot(html, directory / "report.png"))
        pdf = print_pdf(html, directory / "report.html.pdf")
        made.append(pdf)
        made.extend(pdf_pages(pdf, directory / "report.html"))
    if workbook.is_file():
        pdf = workbook_pdf(workbook, directory / "report.xlsx.pdf")
        made.append(pdf)
        made.extend(pdf_pages(pdf, directory / "report.xlsx"))
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path, help="a scan's output folder")
    options = parser.parse_args(argv)
    try:
        for path in check(options.output_dir):
            print(path)
    except CheckError as exc:
        print(f"render_check: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
