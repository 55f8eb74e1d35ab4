"""Pillow: draw, filter, transform, fonts, save and reload PNG/JPEG/WebP in memory."""
import io

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, features

img = Image.new("RGB", (120, 80), "white")
draw = ImageDraw.Draw(img)
draw.rectangle([10, 10, 60, 50], fill=(200, 30, 30))
draw.ellipse([70, 20, 110, 70], outline="blue", width=3)
draw.text((12, 55), "kiln", fill="black", font=ImageFont.load_default())
blurred = img.filter(ImageFilter.GaussianBlur(2))
gray = ImageOps.grayscale(blurred).resize((60, 40), Image.Resampling.LANCZOS)
print("sizes:", img.size, gray.size, gray.mode)
print("pixel:", img.getpixel((20, 20)), img.getpixel((0, 0)))
for fmt in ("PNG", "JPEG", "WEBP"):
    buf = io.BytesIO()
    img.save(buf, fmt, quality=80)
    buf.seek(0)
    back = Image.open(buf)
    back.load()
    print(fmt, back.format, back.size, back.mode)
print("rotated:", img.rotate(90, expand=True).size, "thumb:", ImageOps.contain(img, (30, 30)).size)
print("features:", features.check("freetype2"), features.check("webp"), features.check("jpg"))
