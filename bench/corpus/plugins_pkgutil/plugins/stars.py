def apply(s):
    return "*" + s + "*"
