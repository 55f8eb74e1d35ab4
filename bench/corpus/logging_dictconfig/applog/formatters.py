import json
import logging


class JsonFormatter(logging.Formatter):
    def __init__(self, fields):
        super().__init__()
        self.fields = fields

    def format(self, record):
        record.message = record.getMessage()
        return json.dumps({f: getattr(record, f) for f in self.fields})
