"""Calls that read source at run time. inspect.getsource(x) in a docstring is prose."""
import inspect
import inspect as ins
import sys
from inspect import getsourcelines as lines

import torch
import torch.jit as tj
from torch import jit


def show(fn):
    return inspect.getsource(fn)


def show_lines(fn):
    return lines(fn)


def find(fn):
    return ins.findsource(fn)


@torch.jit.script
def scripted(x):
    return x + 1


@jit.interface
class Iface:
    def forward(self, x):
        pass


class Model:
    @tj.export
    def extra(self):
        return 1


compiled = torch.jit.script(Model())
# Tracing records operations and torch.compile works from bytecode: no source is read.
traced = torch.jit.trace(Model(), ())
fast = torch.compile(Model())
readers = [jit.script]


class Other:
    def getsource(self):
        return ""


def not_a_source_read(obj, getsourcefile):
    obj.getsource()
    getsourcefile(obj)
    inspect.getsourcefile(obj)
    return Other().getsource()


if sys.platform == "win32":
    inspect.getsource(show)
