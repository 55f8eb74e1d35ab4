from . import sibling
from .sub import thing
from .. import parent_level
from ..util.helpers import helper, other
from ... import grand
from .a.b.c import deep
