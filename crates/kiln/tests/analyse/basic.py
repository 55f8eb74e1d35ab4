import os
import os.path, sys as system
import xml.etree.ElementTree as ET
from collections import OrderedDict, defaultdict as dd
from json import *


def load():
    import fractions
    from decimal import Decimal
    return fractions, Decimal


class Thing:
    import array

    def method(self):
        from statistics import mean
        return mean
