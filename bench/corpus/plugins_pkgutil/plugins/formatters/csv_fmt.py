import csv
import io
NAME = "csv"


def render(row):
    buf = io.StringIO()
    csv.writer(buf).writerow(row.values())
    return buf.getvalue().strip()
