import logging


class RedactFilter(logging.Filter):
    def __init__(self, word):
        super().__init__()
        self.word = word

    def filter(self, record):
        record.msg = str(record.msg).replace(self.word, "***")
        return True
