"""The CJK font PDFs are set in: a file the platform's machine has (Debian's fonts-noto-cjk, or SHUYU_PDF_FONT),
never one fetched at run time. Receipts, registration certificates and the annual report share it."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from core.config import get_settings
from core.errors import Unavailable

# (path, index in a font collection): Noto Sans CJK's collection holds JP, KR, SC, TC, HK in that order.
FONT_CANDIDATES = (
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), 0),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
)


class FontMissing(Unavailable):
    type = "font-missing"
    title = "No Chinese font for PDF documents"


def cjk_font() -> tuple[Path, int]:
    """The font file PDFs are set in: SHUYU_PDF_FONT, else the first system CJK font found."""
    configured = get_settings().pdf_font
    if configured is not None:
        return configured, 0
    for path, index in FONT_CANDIDATES:
        if path.exists():
            return path, index
    raise FontMissing("PDF documents need a Chinese font: install Debian's fonts-noto-cjk or set SHUYU_PDF_FONT",
                      zh="生成 PDF 文件需要中文字体：请安装 fonts-noto-cjk 或设置 SHUYU_PDF_FONT")


def document(title: str) -> FPDF:
    """An A4 document set in the CJK font, its title in the metadata, on its first page."""
    font, index = cjk_font()
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author("Shuyu 数域")
    pdf.add_font("cjk", fname=str(font), collection_font_number=index)
    pdf.add_page()
    pdf.set_font("cjk", size=10)
    return pdf


def label_rows(pdf: FPDF, rows: list[tuple[str, str]], label_width: float = 45) -> None:
    """Label–value rows, the value wrapping, a rule above each."""
    for label, value in rows:
        y = pdf.get_y()
        pdf.set_xy(pdf.l_margin, y)
        pdf.multi_cell(label_width, 7, label, border="T", new_x="RIGHT", new_y="TOP")
        pdf.multi_cell(0, 7, value, border="T", new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(max(pdf.get_y(), y + 7))


def table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: list[float]) -> None:
    """A simple table whose cells wrap; a new page repeats nothing but keeps going."""
    # The CJK font has no bold face: headings are shaded instead.
    headings = FontFace(emphasis="", fill_color=(230, 230, 230))
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=5, headings_style=headings) as grid:
        grid.row(header)
        for row in rows:
            grid.row(row)
