"""pandas to_excel / read_excel through openpyxl, with two sheets and a formula cell."""
import io

import openpyxl
import pandas as pd

orders = pd.DataFrame({"sku": ["A1", "B2", "C3"], "qty": [3, 1, 7], "price": [9.5, 120.0, 3.25]})
orders["total"] = orders.qty * orders.price
buf = io.BytesIO()
with pd.ExcelWriter(buf, engine="openpyxl") as writer:
    orders.to_excel(writer, sheet_name="orders", index=False)
    orders.describe().round(2).to_excel(writer, sheet_name="stats")
buf.seek(0)
wb = openpyxl.load_workbook(buf)
ws = wb["orders"]
ws["F1"] = "grand"
ws["F2"] = "=SUM(D2:D4)"
print(wb.sheetnames, ws.max_row, ws.max_column, ws["F2"].value)
out = io.BytesIO()
wb.save(out)
out.seek(0)
sheets = pd.read_excel(out, sheet_name=None, engine="openpyxl")
print(sorted(sheets))
print(sheets["orders"].drop(columns=["grand"]).to_string(index=False))
print(sheets["stats"].set_index("Unnamed: 0").loc["mean"].to_dict())
