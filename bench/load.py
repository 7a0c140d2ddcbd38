"""Decision submissions under load: gunicorn (2 workers) on loopback, driven by wrk.

    apt-get install wrk        # Debian's package
    .venv/bin/python -m bench.load [--seconds 30] [--concurrency 4 8 16 32]

Seeds an organisation, a client system and the tiny test model in a throwaway SQLite
database (or DATABASE_URL), starts gunicorn with the production settings (throttles on,
their counters in Redis when REDIS_URL is set; JSON request logs at INFO into a file), and
posts decisions with unique external ids (per wrk thread) at each concurrency for the given
seconds. Prints requests/s, p50/p99 latency, errors (non-2xx and socket errors), responses
the decisions actually stored during the level (equal to responses: no replays) and the
web workers' CPU per stored submission (less sensitive than req/s to a busy host).

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench.load \
        --concurrency 8 --seconds 45 --redis-outage 16

    .venv/bin/python -m bench.load --bulk 500 [--concurrency 2 4] [--seconds 20]

the bulk mode (issue 17): the same server and database, driven from Python threads
(no wrk), first with single submissions (POST /api/v1/decisions/) and then with bulk
requests of 500 (POST /api/v1/decisions/bulk/), at each concurrency side by side:
decisions stored per second (counted in the database) and the ratio bulk / single.
Test settings (no throttles) unless --settings production: a throttle counts a bulk
request once, which would flatter the ratio.

puts a cuttable TCP proxy (bench/tcpproxy.py) between the web workers and Redis and cuts
it for the given seconds in the middle of the level (throttles on, production settings):
prints the answers by status during the outage and after it, from the server's JSON
request log, and what sign-in, readiness and a case page answered meanwhile.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from bench.tcpproxy import CuttableProxy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PORT = 8099

LUA = r"""
-- each wrk thread has its own Lua state: setup() numbers them so ids never collide
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
counter = 0
request = function()
  counter = counter + 1
  local id = RUN .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  local body = string.gsub(TEMPLATE, "__ID__", id)
  return wrk.format("POST", "/api/v1/decisions/", HEADERS, body)
end
"""


def _seed(env: dict[str, str]) -> tuple[str, str]:
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from tests import factories

    org = factories.make_org()
    _, key = factories.make_client(org)
    mv = factories.make_model_version(factories.make_ai_system(org))
    payload = factories.decision_payload(mv)
    payload["external_id"] = "__ID__"
    return key, json.dumps(payload)


def _server_env(settings: str) -> dict[str, str]:
    """The web server's settings: production's by default (throttles with the shared
    cache, JSON request logs at INFO, secure cookies), on plain HTTP for loopback."""
    if settings == "test":
        return {"DJANGO_SETTINGS_MODULE": "config.settings.test"}
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "INFO",
        # the key the seeding (test settings) used: one chain, one key
        "AUDIT_HMAC_KEY_FILE": str(ROOT / "tests/compliance/audit/test-hmac.key"),
    }


def _workers_cpu_seconds(master_pid: int) -> float:
    """User + system CPU of gunicorn's workers (the master's children), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:  # ppid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _parse(output: str) -> dict[str, float]:
    def grab(pattern: str) -> str:
        m = re.search(pattern, output, re.MULTILINE)
        return m.group(1) if m else "0"

    def to_ms(value: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", value)
        if not m:
            return 0.0
        number, unit = float(m.group(1)), m.group(2)
        return (
            number / 1000 if unit == "us" else number * 1000 if unit == "s" else number
        )

    errors = int(grab(r"Non-2xx or 3xx responses: (\d+)"))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket:
        errors += sum(int(x) for x in socket.groups())
    return {
        "rps": float(grab(r"Requests/sec:\s+([\d.]+)")),
        "p50": to_ms(grab(r"^\s+50%\s+(\S+)")),
        "p99": to_ms(grab(r"^\s+99%\s+(\S+)")),
        "errors": errors,
        "requests": int(grab(r"(\d+) requests in")),
    }


def _statuses(log: Path, start: datetime, end: datetime) -> collections.Counter[int]:
    """Status codes of the decision posts the server logged between two instants."""
    counts: collections.Counter[int] = collections.Counter()
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") != "request" or "status" not in entry:
            continue
        when = datetime.fromisoformat(entry["ts"])
        if start <= when < end:
            counts[int(entry["status"])] += 1
    return counts


def _probe(stop: threading.Event, seen: dict[str, collections.Counter[str]]) -> None:
    """Sign-in (a wrong password), readiness and the sign-in page while Redis is away."""
    import http.client

    def ask(name: str, method: str, path: str, body: str | None = None) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
        try:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            conn.request(method, path, body=body, headers=headers)
            seen[name][str(conn.getresponse().status)] += 1
        except OSError as exc:
            seen[name][type(exc).__name__] += 1
        finally:
            conn.close()

    while not stop.is_set():
        ask("readyz", "GET", "/readyz")
        ask("sign-in page", "GET", "/accounts/login/")
        # no CSRF token: 403 is the right answer, a 500 would be the outage leaking
        ask("sign-in post", "POST", "/accounts/login/", "username=x&password=y")
        stop.wait(0.5)


def _redis_through(proxy_port: int, url: str) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{proxy_port}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument(
        "--settings",
        choices=["production", "test"],
        default="production",
        help="test: no throttles, warnings-only logs",
    )
    parser.add_argument(
        "--redis-outage",
        type=float,
        default=0,
        metavar="SECONDS",
        help="cut Redis (through a proxy) for SECONDS in the middle of each level",
    )
    parser.add_argument(
        "--bulk",
        type=int,
        default=0,
        metavar="SIZE",
        help="compare single submissions with bulk requests of SIZE decisions",
    )
    args = parser.parse_args()
    if args.bulk and "--settings" not in sys.argv:
        args.settings = "test"
    proxy = None
    if args.redis_outage:
        if not os.environ.get("REDIS_URL"):
            raise SystemExit("--redis-outage needs REDIS_URL")
        if args.redis_outage >= args.seconds:
            raise SystemExit("--redis-outage must be shorter than --seconds")
        from bench.tcpproxy import CuttableProxy

        real = urlsplit(os.environ["REDIS_URL"])
        proxy = CuttableProxy(real.hostname or "127.0.0.1", real.port or 6379)
    if shutil.which("wrk") is None and not args.bulk:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    scratch = Path(tempfile.mkdtemp(prefix="inspectoscope-load-"))
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", f"sqlite:///{scratch / 'load.sqlite3'}"
        ),
        "MEDIA_ROOT": str(scratch / "media"),
        "INSPECTOSCOPE_BROKER_DIR": str(scratch / "broker"),
        "LOG_LEVEL": "WARNING",
    }
    key, template = _seed(env)
    headers = (
        '{["Content-Type"] = "application/json", ["Authorization"] = "Api-Key '
        + key
        + '"}'
    )
    server_log = (scratch / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "2",
            "--threads",
            str(args.threads),
            "--worker-class",
            args.worker_class,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            **env,
            **_server_env(args.settings),
            **(
                {"REDIS_URL": _redis_through(proxy.port, os.environ["REDIS_URL"])}
                if proxy
                else {}
            ),
        },
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)  # noqa: S310
                break
            except OSError:
                if server.poll() is not None:
                    server_log.flush()
                    tail = (scratch / "server.log").read_text().splitlines()[-15:]
                    raise SystemExit(
                        "gunicorn did not start:\n" + "\n".join(tail)
                    ) from None
                time.sleep(0.2)
        db = env["DATABASE_URL"].split(":")[0]
        if args.bulk:
            _compare_bulk(args, key, template, db)
            return
        print(
            f"gunicorn 2 {args.worker_class} workers, {args.settings} settings, {db}, "
            f"cache {'redis' if os.environ.get('REDIS_URL') else 'per-process'}, "
            f"{args.seconds} s per level, POST /api/v1/decisions/"
        )
        print(
            f"{'connections':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
            f" {'responses':>9} {'stored':>8} {'web cpu ms/req':>14}"
        )
        from compliance.models import Decision

        run = uuid.uuid4().hex[:12]
        for c in args.concurrency:
            lua = scratch / f"post-{c}.lua"
            lua.write_text(
                f'RUN = "{run}-c{c}"\nTEMPLATE = [[{template}]]\nHEADERS = {headers}\n'
                + LUA
            )
            before = Decision.objects.count()
            cpu_before = _workers_cpu_seconds(server.pid)
            windows: list = []
            outage = (
                threading.Thread(
                    target=_outage,
                    args=(proxy, args.seconds, args.redis_outage, windows),
                    daemon=True,
                )
                if proxy
                else None
            )
            if outage:
                outage.start()
            result = subprocess.run(
                [
                    "wrk",
                    "-t",
                    str(min(c, 2)),
                    "-c",
                    str(c),
                    "-d",
                    f"{args.seconds}s",
                    "--latency",
                    "-s",
                    str(lua),
                    f"http://127.0.0.1:{PORT}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            r = _parse(result.stdout)
            stored = Decision.objects.count() - before
            cpu_ms = (_workers_cpu_seconds(server.pid) - cpu_before) * 1000
            print(
                f"{c:>11} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
                f"{int(r['errors']):>7} {int(r['requests']):>9} {stored:>8} "
                f"{cpu_ms / max(stored, 1):>14.2f}"
            )
            if outage:
                outage.join()
                server_log.flush()
                start, end, level_end = windows[0], windows[1], windows[2]
                log = scratch / "server.log"
                during = _statuses(log, start, end)
                after = _statuses(log, end, level_end)
                print(
                    f"  Redis cut for {(end - start).total_seconds():.1f} s: answers "
                    f"during the outage {dict(sorted(during.items()))}, after it "
                    f"{dict(sorted(after.items()))}; 5xx during: "
                    f"{sum(n for code, n in during.items() if code >= 500)}"
                )
                socket = re.search(r"Socket errors:.*", result.stdout)
                print(f"  wrk {socket.group(0) if socket else 'Socket errors: none'}")
                for name, counts in windows[3].items():
                    print(f"  {name} during the outage: {dict(counts)}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        if proxy:
            proxy.close()


def _post(path: str, key: str, body: bytes) -> tuple[int, float]:
    import http.client

    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Api-Key {key}",
            },
        )
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except OSError:
        return 0, time.perf_counter() - started
    finally:
        conn.close()


def _drive(
    path: str, key: str, make_body: Any, connections: int, seconds: float
) -> tuple[int, int, list[float]]:
    """``connections`` threads posting bodies for ``seconds``: (requests, errors,
    latencies)."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    totals = {"requests": 0, "errors": 0}
    latencies: list[float] = []

    def work(thread: int) -> None:
        n = 0
        while time.monotonic() < stop:
            n += 1
            status, elapsed = _post(path, key, make_body(thread, n))
            with lock:
                totals["requests"] += 1
                totals["errors"] += int(status != 200 and status != 201)
                latencies.append(elapsed)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return totals["requests"], totals["errors"], latencies


def _compare_bulk(args: Any, key: str, template: str, db: str) -> None:
    """Single submissions, then bulk requests, at each concurrency: decisions stored
    per second in the database, side by side."""
    from compliance.models import Decision

    run = uuid.uuid4().hex[:12]
    size = args.bulk
    print(
        f"gunicorn 2 workers, {args.settings} settings, {db}; {args.seconds} s per "
        f"run; single = POST /api/v1/decisions/, bulk = POST /api/v1/decisions/bulk/ "
        f"with {size} decisions"
    )
    print(
        f"{'connections':>11} {'mode':>7} {'requests':>9} {'errors':>7} "
        f"{'p50 ms':>9} {'stored':>8} {'stored/s':>9}"
    )
    for c in args.concurrency:
        rates = {}
        for mode in ("single", "bulk"):

            def body(thread: int, n: int, mode: str = mode, c: int = c) -> bytes:
                stem = f"{run}-{mode}-c{c}-t{thread}-{n}"
                if mode == "single":
                    return template.replace("__ID__", stem).encode()
                items = ",".join(
                    template.replace("__ID__", f"{stem}-{i}") for i in range(size)
                )
                return ('{"decisions": [' + items + "]}").encode()

            path = (
                "/api/v1/decisions/" if mode == "single" else "/api/v1/decisions/bulk/"
            )
            before = Decision.objects.count()
            started = time.perf_counter()
            requests, errors, latencies = _drive(path, key, body, c, args.seconds)
            elapsed = time.perf_counter() - started
            stored = Decision.objects.count() - before
            rates[mode] = stored / elapsed
            latencies.sort()
            p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
            print(
                f"{c:>11} {mode:>7} {requests:>9} {errors:>7} {p50:>9.1f} "
                f"{stored:>8} {rates[mode]:>9.0f}"
            )
        ratio = rates["bulk"] / rates["single"] if rates["single"] else float("inf")
        print(
            f"{c:>11} bulk / single: {ratio:.1f}x decisions stored per second "
            f"(target >= 10x {'met' if ratio >= 10 else 'NOT met'})"
        )


def _outage(proxy: CuttableProxy, seconds: float, outage: float, windows: list) -> None:
    """Cut Redis in the middle of a level: records cut, restore and level-end instants
    (aware datetimes, as the server logs them) and what the probes saw meanwhile."""
    from django.utils import timezone

    time.sleep((seconds - outage) / 2)
    probes: dict[str, collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    stop = threading.Event()
    prober = threading.Thread(target=_probe, args=(stop, probes), daemon=True)
    windows.append(timezone.now())
    proxy.cut()
    prober.start()
    time.sleep(outage)
    stop.set()
    prober.join()
    proxy.restore()
    windows.append(timezone.now())
    time.sleep((seconds - outage) / 2 + 1)
    windows.append(timezone.now())
    windows.append(probes)


if __name__ == "__main__":
    main()
