"""logging.config.dictConfig with handler, formatter and filter classes named by strings."""
import logging
import logging.config

CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(levelname)s %(name)s: %(message)s"},
        "json": {"()": "applog.formatters.JsonFormatter", "fields": ["levelname", "name", "message"]},
    },
    "filters": {"nosecret": {"()": "applog.filters.RedactFilter", "word": "hunter2"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain",
                    "filters": ["nosecret"]},
        "memory": {"class": "applog.handlers.ListHandler", "formatter": "json", "level": "WARNING"},
        "buffer": {"class": "logging.handlers.MemoryHandler", "capacity": 10, "target": "console"},
    },
    "loggers": {"app.db": {"level": "DEBUG", "handlers": ["memory"], "propagate": True}},
    "root": {"level": "INFO", "handlers": ["console", "buffer"]},
}
logging.config.dictConfig(CONFIG)
log = logging.getLogger("app")
log.info("starting with password hunter2")
db = logging.getLogger("app.db")
db.debug("connect")
db.warning("slow query")
logging.getLogger().handlers[1].flush()
from applog.handlers import ListHandler  # noqa: E402

print("memory records:", ListHandler.records)
