"""`make demo`: idp and the three example sites, each its own process; Ctrl-C stops all four.

Run from the repository root after `idp db upgrade` and `idp demo seed`
(the site settings come from instance/demo-clients.json; IDP_ISSUER overrides
the issuer, http://127.0.0.1:5000 by default).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .common import DEFAULT_CLIENTS_FILE, DEFAULT_ISSUER, SITES, settings_from_env

ROOT = Path(__file__).resolve().parent.parent


def wait_until_up(url: str, processes: list[subprocess.Popen], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    issuer = os.environ.get("IDP_ISSUER", DEFAULT_ISSUER).rstrip("/")
    bin_dir = Path(sys.executable).parent
    idp = str(bin_dir / "idp") if (bin_dir / "idp").exists() else "idp"
    sites = {key: settings_from_env(key)["base_url"] for key in SITES}
    env = dict(os.environ, IDP_DEMO_CLIENTS=str(Path(os.environ.get("IDP_DEMO_CLIENTS", DEFAULT_CLIENTS_FILE)).resolve()),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    commands = [("idp", [idp, "serve"])] + [(key, [sys.executable, "-m", f"examples.{key}"]) for key in SITES]

    # Ctrl-C reaches every child (same process group); either way, the finally below stops them all.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    processes: list[subprocess.Popen] = []
    try:
        for _name, command in commands:
            processes.append(subprocess.Popen(command, env=env))
        urls = [issuer + "/healthz"] + [url + "/" for url in sites.values()]
        if not all(wait_until_up(url, processes) for url in urls):
            print("demo: a process did not start; stopping", file=sys.stderr)
            return 1
        print()
        print(f"  idp       {issuer}/login   (demo / Demo-Subscriber-2026; SMS codes at {issuer}/dev/outbox)")
        for key, url in sites.items():
            print(f"  {key:<9} {url}/")
        print("\n  Ctrl-C stops all four.\n", flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = next(p for p in processes if p.poll() is not None)
        print(f"demo: {commands[processes.index(failed)][0]} exited ({failed.returncode}); stopping the others", file=sys.stderr)
        return failed.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)


if __name__ == "__main__":
    sys.exit(main())
