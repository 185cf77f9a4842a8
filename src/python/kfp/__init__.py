"""skiff's stand-in for the `kfp` package inside Pods: enough of `kfp.dsl` to run lightweight
Python components (see ../README.md)."""
__version__ = "2.14.6"
