import sys
import os

if sys.platform == "win32":
    import winreg
elif sys.platform == "darwin":
    import _osx_support
else:
    import posix_fallback

if sys.platform.startswith("linux"):
    import on_linux
else:
    import not_linux

if os.name == "nt":
    import nt_only

if sys.platform != "win32":
    import unix_only

if sys.platform in ("win32", "cygwin"):
    import windows_family

if not sys.platform.startswith(("win", "darwin")):
    import not_win_mac

if __name__ == "__main__":
    import main_block_of_a_library
