import logging


class ListHandler(logging.Handler):
    records = []

    def emit(self, record):
        ListHandler.records.append(self.format(record))
