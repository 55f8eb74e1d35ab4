import fastapi
import pandas
import scipy.optimize
import scipy.signal
import scipy.sparse.linalg
import scipy.stats
import sqlalchemy
import sqlalchemy.orm
import uvicorn

print(fastapi.__version__, pandas.__version__, scipy.__version__, sqlalchemy.__version__, uvicorn.__version__)
