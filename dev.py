#!/usr/bin/env python3
"""Create or update the project's virtual environment, then run a command in it.

    python3 dev.py kextlab boot      # the main job: boot the default machine
    python3 dev.py test              # the whole test suite: lint, types, tests

Any other arguments are run as a command inside the environment
(``python3 dev.py kextlab of ls``, ``python3 dev.py python benchmarks/machine_core.py``).

The environment lives in ``.venv``.  It is rebuilt only when ``requirements.lock``
or ``pyproject.toml`` change (a stamp file records their digest), so the second run
starts at once.  Only the standard library is used here: this script must work on a
fresh machine that has nothing but Python 3.11+ and a package index.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / "kextlab-environment.sha256"
INPUTS = (ROOT / "requirements.lock", ROOT / "pyproject.toml")

TEST_STEPS = (
    ("ruff", ["ruff", "check", "src", "tests", "benchmarks", "dev.py"]),
    ("mypy", ["mypy"]),
    ("pytest", ["pytest"]),
)


def venv_executable(name: str) -> Path:
    scripts = VENV / ("Scripts" if os.name == "nt" else "bin")
    return scripts / name


def environment_digest() -> str:
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    for path in INPUTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs before the check can hold
        sys.exit(f"dev.py: kextlab needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = environment_digest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    print("dev.py: creating the virtual environment in .venv ...", file=sys.stderr, flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    python = str(venv_executable("python"))
    pip = [python, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-r", str(ROOT / "requirements.lock")], check=True)
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True
    )
    STAMP.write_text(wanted + "\n")


def run(command: list[str]) -> int:
    executable = venv_executable(command[0])
    argv = [str(executable) if executable.exists() else command[0], *command[1:]]
    environment = dict(os.environ, VIRTUAL_ENV=str(VENV))
    environment["PATH"] = f"{venv_executable('python').parent}{os.pathsep}{environment['PATH']}"
    return subprocess.run(argv, cwd=ROOT, env=environment).returncode


def main(arguments: list[str]) -> int:
    if not arguments:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_environment()
    if arguments[0] != "test":
        return run(arguments)
    for name, command in TEST_STEPS:
        print(f"dev.py test: {name}", file=sys.stderr, flush=True)
        status = run(command + (arguments[1:] if name == "pytest" else []))
        if status != 0:
            print(f"dev.py test: {name} failed (exit status {status})", file=sys.stderr)
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
