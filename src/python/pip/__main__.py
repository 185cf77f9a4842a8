"""`python3 -m pip`, as skiff's Pods see it: installing what skiff provides succeeds offline;
anything else goes to the real pip (which needs the network for most things)."""
import os
import re
import runpy
import sys

# Packages this folder provides (kfp's executor) or that a component's install line names only
# for older Pythons / as kfp's companions.
PROVIDED = {"kfp", "typing-extensions", "typing_extensions", "kfp-pipeline-spec", "kfp-server-api"}


def requirement_names(args):
    names = []
    skip_next = False
    for a in args:
        if skip_next:
            skip_next = False
            continue
        if a in ("-i", "--index-url", "--extra-index-url", "--trusted-host", "-f", "--find-links",
                 "-c", "--constraint", "--target", "-t", "--prefix", "--root", "--cache-dir"):
            skip_next = True
            continue
        if a.startswith("-"):
            continue
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)", a)
        if m:
            names.append(m.group(1).lower())
    return names


def real_pip():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    for name in list(sys.modules):
        if name == "pip" or name.startswith("pip."):
            del sys.modules[name]
    runpy.run_module("pip", run_name="__main__", alter_sys=True)


def main():
    args = sys.argv[1:]
    if args and args[0] == "install":
        names = requirement_names(args[1:])
        if names and all(n in PROVIDED for n in names):
            if "--quiet" not in args and "-q" not in args:
                print("skiff: %s provided by skiff's built-in KFP executor (no download)"
                      % ", ".join(names))
            return 0
    try:
        real_pip()
    except ImportError:
        print("skiff: pip is not available here and Pods run offline; skiff provides only "
              "kfp's executor (pip install %s)" % " ".join(args[1:]), file=sys.stderr)
        return 1
    return 0


sys.exit(main())
