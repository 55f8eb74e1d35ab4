"""reportlab, fpdf2, pypdf and pdfminer.six: generate PDFs (reportlab's standard font metrics,
fpdf2's core fonts), merge them with pypdf, extract text with pdfminer (CMap data files)."""
import io, os, tempfile
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import SimpleDocTemplate, Paragraph, Table
from reportlab.graphics.barcode import qr
from reportlab.graphics.shapes import Drawing
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pdfminer.high_level import extract_text

d = tempfile.mkdtemp()
p1 = os.path.join(d, "rl.pdf")
doc = SimpleDocTemplate(p1, pagesize=A4, invariant=1)
ss = getSampleStyleSheet()
dr = Drawing(80, 80); dr.add(qr.QrCodeWidget("hello"))
doc.build([Paragraph("ReportLab heading", ss["Title"]), Paragraph("Body text here.", ss["BodyText"]),
           Table([["a", "b"], ["1", "2"]]), dr])
f = FPDF(); f.add_page(); f.set_font("Helvetica", size=14); f.cell(text="fpdf2 line"); f.set_font("Times", "B", 12)
f.ln(); f.cell(text="second"); p2 = os.path.join(d, "f.pdf"); f.output(p2)
w = PdfWriter()
for p in (p1, p2):
    for page in PdfReader(p).pages: w.add_page(page)
w.add_metadata({"/Title": "merged"}); p3 = os.path.join(d, "m.pdf")
with open(p3, "wb") as fh: w.write(fh)
r = PdfReader(p3)
print(len(r.pages), r.metadata.title, r.pages[1].extract_text().split())
print(extract_text(p3).split())
from pdfminer.cmapdb import CMapDB
print(type(CMapDB.get_cmap("UniJIS-UCS2-H")).__name__, len(CMapDB.get_unicode_map("Adobe-Japan1").cid2unichr) > 1000)
from reportlab.pdfbase.pdfmetrics import stringWidth
print(stringWidth("Hello", "Times-Roman", 12), stringWidth("Hello", "Courier", 12))
