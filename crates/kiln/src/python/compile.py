# Compiles Python sources to bytecode for kiln, with the interpreter that will run them.
# Reads jobs from stdin, one per line: "<optimize>\t<source path>\t<display name>\t<output path>",
# each path and name as the hex of its bytes (so that any file name, with tabs, newlines or bytes
# that are not UTF-8, passes). Writes one line per job to stdout: "ok" or "error\t<message>".
# Standard library only.
import importlib._bootstrap_external as bootstrap
import importlib.util
import os
import sys


def compile_one(optimize, source_path, display, output):
    with open(source_path, "rb") as f:
        source = f.read()
    code = compile(source, display, "exec", dont_inherit=True, optimize=optimize)
    data = bootstrap._code_to_hash_pyc(code, importlib.util.source_hash(source), False)
    tmp = "%s.%d.tmp" % (output, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, output)


def one_line(message):
    text = message.replace("\n", " ").replace("\t", " ")
    return "error\t%s\n" % text.encode("utf-8", "backslashreplace").decode("utf-8")


def main():
    out = sys.stdout
    for line in sys.stdin:
        optimize, source_path, display, output = line.rstrip("\n").split("\t")
        source_path = os.fsdecode(bytes.fromhex(source_path))
        display = os.fsdecode(bytes.fromhex(display))
        output = os.fsdecode(bytes.fromhex(output))
        try:
            compile_one(int(optimize), source_path, display, output)
            out.write("ok\n")
        except SyntaxError as e:
            out.write(one_line("%s:%s: %s" % (source_path, e.lineno, e.msg)))
        except Exception as e:
            out.write(one_line("%s: %s" % (source_path, e)))
        out.flush()


main()
