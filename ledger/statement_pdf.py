"""The PDF statement, drawn with reportlab's canvas (A4, one line per movement).

weasyprint laid out about 70 rows a second (an HTML table re-laid out on every page break, each
cell a separately shaped text box), so 5,000 movements took over a minute. Here every row has the
same height (a long description is shortened with an ellipsis to its column), so the page count is
known before drawing ("Page n of N" in one pass) and rows are plain string draws: thousands a second.

Layout: page 1 carries the cooperative's name, the branch, the member's details, the account and
period and a summary (opening balance, total debits, total credits, closing balance, movement
count); every page repeats the column headings and a footer with the account number and page
numbers; the opening balance is the first row, totals and the closing balance the last.
"""

from __future__ import annotations

import io
import math
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from reportlab.lib.colors import HexColor, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

BLUE = HexColor("#1f4e79")
GREY = HexColor("#666666")
DARK = HexColor("#222222")
RULE = HexColor("#e3e8ee")
ZEBRA = HexColor("#f6f8fa")
EDGE = HexColor("#eef2f6")
BOX = HexColor("#c8d3df")

PAGE_W, PAGE_H = A4
LEFT, RIGHT, TOP, BOTTOM = 14 * mm, 14 * mm, 16 * mm, 18 * mm
WIDTH = PAGE_W - LEFT - RIGHT
ROW_H = 11.5
HEAD_H = 15
FIRST_PAGE_HEADER = 150  # points taken on page 1 by the letterhead, details and summary
CLOSING_ROWS = 2  # totals, closing balance
FOOTNOTE_H = 30
# Column (title, share of the width, alignment)
COLUMNS = [
    ("Posted", 0.15, "left"),
    ("Value date", 0.10, "left"),
    ("Reference", 0.16, "left"),
    ("Description", 0.22, "left"),
    ("Debit", 0.115, "right"),
    ("Credit", 0.115, "right"),
    ("Balance", 0.14, "right"),
]
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")


def _fonts() -> tuple[str, str]:
    """DejaVu Sans (covers Yoruba and Igbo diacritics and ₦) when installed, else Helvetica."""
    if "CoopSans" in pdfmetrics.getRegisteredFontNames():
        return "CoopSans", "CoopSans-Bold"
    for folder in FONT_DIRS:
        regular, bold = Path(folder, "DejaVuSans.ttf"), Path(folder, "DejaVuSans-Bold.ttf")
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont("CoopSans", str(regular)))
            pdfmetrics.registerFont(TTFont("CoopSans-Bold", str(bold)))
            return "CoopSans", "CoopSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def rows_per_page(first: bool) -> int:
    usable = PAGE_H - TOP - BOTTOM - HEAD_H - (FIRST_PAGE_HEADER if first else 0)
    return int(usable // ROW_H)


def page_count(movements: int) -> int:
    """Pages for `movements` rows, plus the opening row, the totals and closing rows, the footnote."""
    rows = movements + 1 + CLOSING_ROWS
    first = rows_per_page(True)
    if rows <= first:
        pages, on_last, capacity = 1, rows, first
    else:
        later = rows_per_page(False)
        pages = 1 + math.ceil((rows - first) / later)
        on_last, capacity = rows - first - (pages - 2) * later, later
    return pages + (1 if (capacity - on_last) * ROW_H < FOOTNOTE_H else 0)


class _Writer:
    def __init__(self, statement):
        self.statement = statement
        self.account = statement.account
        self.font, self.bold = _fonts()
        self.buffer = io.BytesIO()
        self.canvas = Canvas(self.buffer, pagesize=A4, pageCompression=1)
        self.canvas.setTitle(f"Statement {self.account.account_number}")
        self.canvas.setAuthor(settings.COOP_NAME)
        self.pages = page_count(statement.movement_count)
        self.page = 0
        self.x = []
        left = LEFT
        for _, share, align in COLUMNS:
            width = WIDTH * share
            self.x.append((left, width, align))
            left += width
        self.zebra = False

    # --- drawing helpers ---------------------------------------------------------------------------
    def text(self, x, y, value: str, *, size=8.0, bold=False, color=DARK, align="left") -> None:
        c = self.canvas
        c.setFont(self.bold if bold else self.font, size)
        c.setFillColor(color)
        if align == "right":
            c.drawRightString(x, y, value)
        elif align == "center":
            c.drawCentredString(x, y, value)
        else:
            c.drawString(x, y, value)

    def fit(self, value: str, width: float, size: float) -> str:
        """`value` shortened with an ellipsis to fit `width` points."""
        measure = pdfmetrics.stringWidth
        if measure(value, self.font, size) <= width:
            return value
        while value and measure(value + "…", self.font, size) > width:
            estimate = int(len(value) * width / max(measure(value, self.font, size), 1))
            value = value[: max(0, min(len(value) - 1, estimate - 1))].rstrip()
        return value + "…"

    def cell(self, column: int, y: float, value: str, *, bold=False, size=8.0) -> None:
        left, width, align = self.x[column]
        pad = 3
        value = self.fit(value, width - 2 * pad, size)
        if align == "right":
            self.text(left + width - pad, y, value, size=size, bold=bold, align="right")
        else:
            self.text(left + pad, y, value, size=size, bold=bold)

    # --- page furniture ------------------------------------------------------------------------------
    def new_page(self) -> float:
        if self.page:
            self.canvas.showPage()
        self.page += 1
        self.footer()
        y = PAGE_H - TOP
        if self.page == 1:
            y = self.letterhead(y)
        return self.headings(y)

    def footer(self) -> None:
        y = BOTTOM - 10
        self.text(LEFT, y, f"Statement of account {self.account.account_number}", size=7.5, color=GREY)
        self.text(PAGE_W - RIGHT, y, f"Page {self.page} of {self.pages}", size=7.5, color=GREY, align="right")

    def letterhead(self, y: float) -> float:
        statement, account, c = self.statement, self.account, self.canvas
        member, branch = account.member, account.branch
        self.text(LEFT, y - 14, settings.COOP_NAME, size=15, bold=True, color=BLUE)
        self.text(LEFT, y - 27, "Statement of account", size=10, color=GREY)
        right = PAGE_W - RIGHT
        self.text(right, y - 10, f"{branch.name} ({branch.code})", size=8.5, bold=True, align="right")
        line = y - 21
        for part in (branch.address, ", ".join(p for p in (branch.city, branch.state) if p)):
            if part:
                self.text(right, line, part, size=8, color=GREY, align="right")
                line -= 10
        c.setStrokeColor(BLUE)
        c.setLineWidth(1.5)
        c.line(LEFT, y - 36, right, y - 36)
        details = []
        if member is not None:
            details.append(("Member", member.full_name, True))
            details.append(("Member number", member.member_number, False))
            address = ", ".join(p for p in (member.address, member.city, member.state) if p)
            if address:
                details.append(("Address", address, False))
        else:
            details.append(("Account name", account.name, True))
        facts = [
            ("Account number", account.account_number, True),
            ("Account type", f"{account.get_type_display()} ({account.currency})", False),
            ("Period", f"{statement.date_from:%-d %b %Y} – {statement.date_to:%-d %b %Y}", False),
        ]
        for column, rows in ((LEFT, details), (LEFT + WIDTH * 0.58, facts)):
            line = y - 52
            for label, value, strong in rows:
                self.text(column, line, label, size=8.5, color=GREY)
                self.text(column + 82, line, self.fit(value, WIDTH * 0.42 - 88, 8.5), size=8.5, bold=strong)
                line -= 12
        top = y - 96
        boxes = [
            ("OPENING BALANCE", amount(statement.opening_balance)),
            ("TOTAL DEBITS", amount(statement.total_debits)),
            ("TOTAL CREDITS", amount(statement.total_credits)),
            ("CLOSING BALANCE", amount(statement.closing_balance)),
            ("MOVEMENTS", f"{statement.movement_count:,}"),
        ]
        box_w = WIDTH / len(boxes)
        c.setStrokeColor(BOX)
        c.setLineWidth(0.75)
        for n, (label, value) in enumerate(boxes):
            bx = LEFT + n * box_w
            c.rect(bx, top - 32, box_w, 32, stroke=1, fill=0)
            self.text(bx + box_w / 2, top - 12, label, size=6.5, color=GREY, align="center")
            self.text(bx + box_w / 2, top - 25, value, size=10, bold=True, align="center")
        return y - FIRST_PAGE_HEADER

    def headings(self, y: float) -> float:
        c = self.canvas
        c.setFillColor(BLUE)
        c.rect(LEFT, y - HEAD_H, WIDTH, HEAD_H, stroke=0, fill=1)
        for n, (title, _, _) in enumerate(COLUMNS):
            left, width, align = self.x[n]
            if align == "right":
                self.text(left + width - 3, y - HEAD_H + 4.5, title, color=white, align="right")
            else:
                self.text(left + 3, y - HEAD_H + 4.5, title, color=white)
        self.zebra = False
        return y - HEAD_H

    def band(self, y: float, color) -> None:
        self.canvas.setFillColor(color)
        self.canvas.rect(LEFT, y - ROW_H, WIDTH, ROW_H, stroke=0, fill=1)

    def rule(self, y: float, color=RULE, width=0.5) -> None:
        c = self.canvas
        c.setStrokeColor(color)
        c.setLineWidth(width)
        c.line(LEFT, y, LEFT + WIDTH, y)

    # --- the statement ----------------------------------------------------------------------------
    def draw(self) -> bytes:
        statement = self.statement
        self.y = self.new_page()
        self.left = rows_per_page(True)

        def next_row() -> float:
            """The top of the next row, starting a page when this one is full."""
            if self.left == 0:
                self.y = self.new_page()
                self.left = rows_per_page(False)
            self.left -= 1
            y = self.y
            self.y -= ROW_H
            return y

        y = next_row()
        self.band(y, EDGE)
        self.cell(3, y - 8, "Opening balance", bold=True)
        self.cell(6, y - 8, amount(statement.opening_balance), bold=True)
        for m in statement.movements():
            y = next_row()
            if self.zebra:
                self.band(y, ZEBRA)
            self.zebra = not self.zebra
            base = y - 8
            self.cell(0, base, f"{m.posted_at:%d/%m/%Y %H:%M}", size=7)
            self.cell(1, base, f"{m.value_date:%d/%m/%Y}", size=7)
            self.cell(2, base, m.reference, size=6.5)
            self.cell(3, base, m.description, size=7.5)
            self.cell(4, base, amount(m.debit), size=7.5)
            self.cell(5, base, amount(m.credit), size=7.5)
            self.cell(6, base, amount(m.balance), size=7.5)
            self.rule(y - ROW_H)
        y = next_row()
        self.rule(y, BLUE, 1.2)
        self.cell(3, y - 8, "Totals for the period", bold=True)
        self.cell(4, y - 8, amount(statement.total_debits), bold=True)
        self.cell(5, y - 8, amount(statement.total_credits), bold=True)
        y = next_row()
        self.band(y, EDGE)
        self.cell(3, y - 8, "Closing balance", bold=True)
        self.cell(6, y - 8, amount(statement.closing_balance), bold=True)
        y = self.y
        if self.left * ROW_H < FOOTNOTE_H:
            y = self.new_page()
        generated = f"{statement.generated_at:%-d %b %Y, %H:%M}"
        notes = [
            f"Amounts in {self.account.currency}. Dates are posting dates (West Africa Time); "
            "the value date is the date the movement counts from.",
            f"Generated {generated}. Please report any discrepancy to your branch within 30 days.",
        ]
        for n, note in enumerate(notes):
            self.text(LEFT, y - 12 - n * 9, note, size=7, color=GREY)
        self.canvas.showPage()
        self.canvas.save()
        if self.page != self.pages:  # the count printed in every footer must be right
            raise AssertionError(f"statement PDF page count {self.page} != {self.pages}")
        return self.buffer.getvalue()


def render(statement) -> bytes:
    return _Writer(statement).draw()
