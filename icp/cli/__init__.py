"""The ``icp`` command: parses arguments, calls the library, prints.

Each sub-command lives in its own module in this package and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a
function ``(args) -> int``, and an ``ORDER`` number for the help listing.
No analysis happens here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
import warnings

from icp import __version__
from icp.exceptions import IcpError

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2


def _command_modules():
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            found.append(module)
    return sorted(found, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``icp`` command, with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="icp",
        description="ICP Lens: who your customers really are, who is about to leave, and why.",
    )
    parser.add_argument("--version", action="version", version=f"icp-lens {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full Python traceback on errors"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``icp`` command; return its exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug may be given before or after the sub-command.
    debug = "--debug" in argv
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    os.environ.setdefault("MPLBACKEND", "Agg")
    from icp.cli._common import console_err

    try:
        with warnings.catch_warnings():
            if not args.verbose:
                warnings.filterwarnings("ignore", category=FutureWarning)
            return int(args.handler(args) or EXIT_OK)
    except IcpError as exc:
        if debug:
            raise
        console_err.print(f"[bold red]Error:[/] {exc}", highlight=False)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        console_err.print("Interrupted.")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if debug:
            raise
        console_err.print(
            f"[bold red]Internal error:[/] {type(exc).__name__}: {exc}. "
            "This is a fault in ICP Lens, not in your data. "
            "Run the same command with --debug to see the details and report them.",
            highlight=False,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
