"""Benchmark the hot path: discovery, JWKS, userinfo, introspection and the token endpoint.

Starts `idp serve` (gunicorn) on a throw-away database, gets real tokens
through the real sign-in flow, then loads each endpoint with wrk (Debian
package `wrk`) and prints requests per second and latency. Refresh-token
rotation is driven from Python threads, since every request needs the token
the previous one returned.

    python bench/hot_path.py                       # SQLite, no Redis
    python bench/hot_path.py --database-url postgresql://postgres@127.0.0.1/test --redis-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session

PASSWORD = "Bench-Subscriber-2026"
# The `idp` console script beside this interpreter (.venv/bin/idp), whether or not the venv is activated.
IDP = str(Path(sys.executable).with_name("idp"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def idp(env: dict, *args: str, stdin: str | None = None) -> dict:
    out = subprocess.run([IDP, *args, "--json"], env=env, input=stdin, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def sign_in_and_get_tokens(issuer: str, client_id: str, secret: str, count: int) -> list[dict]:
    """Sign in once through the form, then get `count` token sets silently (SSO)."""
    browser = requests.Session()
    results = []
    for i in range(count):
        oauth = OAuth2Session(client_id, secret, scope="openid profile email phone", redirect_uri="http://127.0.0.1:9/cb",
                              code_challenge_method="S256")
        verifier = secrets.token_urlsafe(48)
        url, state = oauth.create_authorization_url(issuer + "/authorize", code_verifier=verifier, nonce="n")
        response = browser.get(url, allow_redirects=False)
        if i == 0:
            login = browser.get(issuer + response.headers["Location"])
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login.text).group(1)
            response = browser.post(login.url, data={"csrf_token": token, "identifier": "bench", "password": PASSWORD},
                                    allow_redirects=False)
            response = browser.get(issuer + response.headers["Location"], allow_redirects=False)
        callback = response.headers["Location"]
        assert "code" in parse_qs(urlsplit(callback).query), callback
        results.append(oauth.fetch_token(issuer + "/token", authorization_response=callback, code_verifier=verifier))
    return results


def wrk(url: str, seconds: int, connections: int, threads: int, headers: dict | None = None, body: str | None = None) -> dict:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    script = None
    if body is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                     'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
        script.close()
        args += ["-s", script.name]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+\w+)", out).group(1)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non_2xx": int(errors.group(1)) if errors else 0}


def refresh_rotation(issuer: str, client_id: str, secret: str, token_sets: list[dict], seconds: int) -> dict:
    """Each thread keeps rotating its own refresh-token family for `seconds`."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(token_set):
        http = requests.Session()
        refresh_token = token_set["refresh_token"]
        mine = []
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = http.post(issuer + "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                                 auth=(client_id, secret))
            mine.append(time.perf_counter() - started)
            if response.status_code != 200:
                with lock:
                    failures[0] += 1
                return
            refresh_token = response.json()["refresh_token"]
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(t,)) for t in token_sets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {
        "rps": round(len(latencies) / seconds, 1),
        "p50": f"{statistics.median(latencies) * 1000:.2f}ms",
        "p99": f"{latencies[int(len(latencies) * 0.99)] * 1000:.2f}ms",
        "non_2xx": failures[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("error: wrk is not installed (apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {**os.environ, "IDP_CONFIG": str(workdir / "idp.toml"), "IDP_SERVER_ISSUER": issuer}
    subprocess.run([IDP, "config", "init", "--path", str(workdir / "idp.toml"), "--issuer", issuer], env=env, check=True,
                   capture_output=True)
    bench_db = f"idp_bench_{port}"
    if args.database_url:
        # A database of its own on that server, dropped afterwards: nothing else is touched.
        subprocess.run(["psql", args.database_url, "-qc", f'CREATE DATABASE "{bench_db}"'], check=True)
        env["IDP_DATABASE_URL"] = args.database_url.rsplit("/", 1)[0] + "/" + bench_db
    env["IDP_REDIS_URL"] = args.redis_url
    env["IDP_REDIS_PREFIX"] = f"bench-{port}:"
    idp(env, "db", "upgrade")
    rp = idp(env, "clients", "add", "--name", "Bench", "--redirect-uri", "http://127.0.0.1:9/cb", "--first-party",
             "--client-credentials", "--scope", "openid profile email phone introspection")
    idp(env, "users", "add", "--username", "bench", "--phone", "0900000999", "--password-stdin", stdin=PASSWORD + "\n")

    server = subprocess.Popen([IDP, "serve", "--port", str(port), "--workers", str(args.workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if requests.get(issuer + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        token_sets = sign_in_and_get_tokens(issuer, rp["client_id"], rp["client_secret"], args.connections // 2)
        access = token_sets[0]["access_token"]
        basic = "Basic " + base64.b64encode(f"{rp['client_id']}:{rp['client_secret']}".encode()).decode()
        load = dict(seconds=args.seconds, connections=args.connections, threads=args.threads)
        results = {
            "GET /.well-known/openid-configuration": wrk(issuer + "/.well-known/openid-configuration", **load),
            "GET /jwks.json": wrk(issuer + "/jwks.json", **load),
            "GET /userinfo": wrk(issuer + "/userinfo", headers={"Authorization": f"Bearer {access}"}, **load),
            "POST /introspect": wrk(issuer + "/introspect", headers={"Authorization": basic}, body=f"token={access}", **load),
            "POST /token (client_credentials)": wrk(issuer + "/token", headers={"Authorization": basic},
                                                    body="grant_type=client_credentials&scope=openid", **load),
            "POST /token (refresh_token, rotating)": refresh_rotation(issuer, rp["client_id"], rp["client_secret"],
                                                                      token_sets, args.seconds),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
        if args.database_url:
            subprocess.run(["psql", args.database_url, "-qc", f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)'], check=True)

    backend = "PostgreSQL + Redis" if args.database_url and args.redis_url else ("PostgreSQL" if args.database_url else "SQLite")
    print(f"\nidp hot path: {backend}, gunicorn {args.workers} sync workers, {args.connections} connections, "
          f"{args.seconds}s per endpoint, {os.cpu_count()} CPUs")
    print(f"{'endpoint':42} {'req/s':>9} {'p50':>9} {'p99':>9} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:42} {r['rps']:>9.1f} {r['p50']:>9} {r['p99']:>9} {r['non_2xx']:>7}")


if __name__ == "__main__":
    main()
