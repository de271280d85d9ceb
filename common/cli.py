"""Command-line machinery every entry point shares: one help style, checked flag types, one main().

Every command's ``main(argv=None)`` is ``run_main(build_parser, run, argv)``:
the arguments are parsed first (so ``--help`` and flag errors never load
MXNet), then ``common.runtime`` applies the process defaults, then ``run``
does the work, importing what it needs. Errors that users cause (bad files,
bad values) end as one line ``error: ...`` on stderr and exit code 2, with
no traceback; Ctrl-C ends with exit code 130.

Command modules therefore import only light modules at their top (a test
checks this for every entry point).
"""
from __future__ import annotations

import argparse
import logging
import math
import shlex
import sys
from typing import Callable, Optional, Sequence, Tuple

from common import runtime

log = logging.getLogger(__name__)

#: Exceptions whose message is the whole story for a user (the project's data errors are ValueErrors).
#: OSErrors (missing, unreadable or unwritable files) name the file in their message.
EXPECTED_ERRORS = (ValueError, KeyError, OSError)


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to a flag's help unless the help states its default or there is none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default:" in text or action.default in (None, argparse.SUPPRESS, False) or action.required:
            return text
        if isinstance(action, argparse._StoreTrueAction):
            return text
        return text + " (default: %(default)s)"


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An ArgumentParser with the shared help formatter; ``prog`` is how users type the command."""
    return argparse.ArgumentParser(prog=prog, description=description, formatter_class=HelpFormatter)


# --- flag types: every numeric flag is checked here, before any value reaches MXNet ---------------

def _parse(text: str, kind, what: str, ok: Callable[[float], bool]):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _parse(text, int, "a positive integer", lambda v: v > 0)


def nonnegative_int(text: str) -> int:
    return _parse(text, int, "an integer >= 0", lambda v: v >= 0)


def positive_float(text: str) -> float:
    return _parse(text, float, "a finite number > 0", lambda v: math.isfinite(v) and v > 0)


def nonnegative_float(text: str) -> float:
    return _parse(text, float, "a finite number >= 0", lambda v: math.isfinite(v) and v >= 0)


def unit_float(text: str) -> float:
    return _parse(text, float, "a number in [0, 1]", lambda v: 0.0 <= v <= 1.0)


def triple(text: str) -> Tuple[float, float, float]:
    """Parse ``"r,g,b"`` (or one number for all three channels); values must be finite."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 3 comma-separated numbers, got {text!r}") from None
    if len(values) == 1:
        values = values * 3
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected 3 comma-separated finite numbers, got {text!r}")
    return values


# --- flags shared by several commands ---------------------------------------------------------

def add_model_args(p: argparse.ArgumentParser, *, default: Optional[str] = None) -> None:
    """``--prefix`` (required unless a ``default`` model is given) and ``--epoch``."""
    g = p.add_argument_group("model")
    g.add_argument("--prefix", required=default is None, default=default,
                   help="model prefix: PREFIX-symbol.json, PREFIX-NNNN.params, PREFIX-meta.json"
                        + (f" (default: {default})" if default else ""))
    g.add_argument("--epoch", type=nonnegative_int, default=None,
                   help="NNNN of the params file (default: the latest)")


#: ``--engine`` choices; ``auto`` is OpenVINO where it is installed, else ONNX Runtime.
ENGINES = ("auto", "onnxruntime", "openvino")
#: ``--precision`` choices (OpenVINO's compute precision).
PRECISIONS = ("fp32", "bf16")


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--precision``: how a ``.onnx`` model runs (``detect.loading.choose_engine``)."""
    g = p.add_argument_group("engine (.onnx models)")
    g.add_argument("--engine", choices=ENGINES, default="auto",
                   help="what runs a .onnx model: auto is OpenVINO where it is installed, else ONNX Runtime")
    g.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="OpenVINO's compute precision; bf16 needs a CPU with AVX512-BF16 or AMX")


def add_device_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("devices")
    g.add_argument("--gpus", default=None,
                   help="comma-separated GPU ids, e.g. 0,1 (default: CPU; needs the CUDA build, "
                        "requirements-gpu.txt)")
    g.add_argument("--cpus", type=positive_int, default=1,
                   help="number of CPU contexts when no GPU is given")


# --- the main() preamble ------------------------------------------------------------------------

def run_main(build_parser: Callable[[], argparse.ArgumentParser],
             run: Callable[[argparse.Namespace], Optional[int]],
             argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv``, apply the runtime defaults, set up logging, call ``run(args)``; return the exit code.

    ``args.command`` holds the command line as typed (``prog`` and quoted arguments), for
    provenance in model metadata.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    runtime.configure(argv)
    setup_logging()
    args.command = " ".join([parser.prog] + [shlex.quote(a) for a in argv])
    try:
        return int(run(args) or 0)
    except EXPECTED_ERRORS as err:
        return print_error(err)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def print_error(err: BaseException) -> int:
    """Print ``error: <message>`` to stderr (a KeyError without its quotes); returns exit code 2."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else err
    print(f"error: {message}", file=sys.stderr)
    return 2


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
