"""The local service under load, against the same work called directly in the same run.

`big-mood serve` is started on a free localhost port (a subprocess), and 1, 8 and 32 concurrent clients (threads with
their own HTTP connection) send POST /v1/pat/embed (one standardised week; every PAT model of the folder) and POST
/v1/features (90 nights of one synthetic person's sleep episodes). Per level: requests answered 200, refused 503
(the client then waits the Retry-After it was given and sends the next one), anything else (must be 0: a request is
answered or refused cleanly, never lost), throughput, p50 and p99 latency of the answered ones, and the server's peak
resident memory. The baseline is the same work called in this process through big_mood.serve.inference (embed_weeks,
sleep_features) with the same models: one caller, and as many callers as the server has inference threads; the
ratios divide the service's throughput by the baseline's with as many callers as the server has threads.

    .venv/bin/python bench/serve.py                              # a population trained on synthetic cohorts, in a temporary folder
    .venv/bin/python bench/serve.py --models models/population   # the models `dvc repro population` built
    .venv/bin/python bench/serve.py --clients 1 8 --requests 24 --max-seconds 30

Bounded: at most --requests answered requests and --max-seconds per level and endpoint, localhost only. The inputs are
synthetic (random weeks; the synthetic mood cohort's sleep episodes), and so are the default models
(`synthetic_population`); other processes share the cores, so the load average is printed with the figures.
"""
import argparse, concurrent.futures, json, os, socket, subprocess, sys, tempfile, threading, time
from pathlib import Path

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def payloads(seed: int = 0) -> dict:
    "The request body of each endpoint, and the arguments of the same work called directly."
    from big_mood.data.synthetic_mood import synthetic_mood_cohort
    week = np.random.default_rng(seed).normal(size=(1, 10080)).astype(np.float32)
    episodes = synthetic_mood_cohort(1, 90, seed)[0].drop(columns='person').astype({'sleep_start': str, 'sleep_end': str})
    return {'/v1/pat/embed': ({'weeks': week.tolist()}, week), '/v1/features': ({'episodes': episodes.to_dict('records')}, episodes)}


def direct(models, endpoint: str, arg, callers: int, requests: int, max_seconds: float) -> dict:
    "The endpoint's work called in this process by `callers` threads: throughput and latencies."
    from big_mood.serve.inference import embed_weeks, sleep_features
    work = (lambda: embed_weeks(models, arg)) if endpoint == '/v1/pat/embed' else (lambda: sleep_features(models, arg))
    work()   # warm up
    latencies, lock, t0, started = [], threading.Lock(), time.perf_counter(), [0]
    def caller():
        while True:
            with lock:
                if started[0] >= requests or time.perf_counter() - t0 > max_seconds: return
                started[0] += 1
            t = time.perf_counter(); work(); dt = time.perf_counter() - t
            with lock: latencies.append(dt)
    with concurrent.futures.ThreadPoolExecutor(callers) as pool: list(pool.map(lambda _: caller(), range(callers)))
    return {'ok': len(latencies), 'refused': 0, 'lost': 0, 'seconds': time.perf_counter() - t0, 'latencies': latencies, 'rss_mb': None}


def load(url: str, endpoint: str, body: dict, clients: int, requests: int, max_seconds: float, server: psutil.Process) -> dict:
    "`clients` concurrent HTTP clients until `requests` are answered or `max_seconds` pass: counts, latencies, peak server RSS."
    content, headers = json.dumps(body).encode(), {'Content-Type': 'application/json'}   # encoded once: the clients share the cores
    latencies, refused, lost, lock, t0, stop = [], [0], [], threading.Lock(), time.perf_counter(), threading.Event()
    sent = [0]   # requests sent and not refused: at most `requests`
    def client():
        with httpx.Client(base_url=url, timeout=300) as http:
            while not stop.is_set():
                with lock:
                    if sent[0] >= requests or time.perf_counter() - t0 > max_seconds: return
                    sent[0] += 1
                t = time.perf_counter()
                try: r = http.post(endpoint, content=content, headers=headers)
                except httpx.HTTPError as e:
                    with lock: lost.append(type(e).__name__)
                    continue
                dt = time.perf_counter() - t
                if r.status_code == 200:
                    with lock: latencies.append(dt)
                elif r.status_code == 503 and r.headers.get('retry-after'):
                    with lock: refused[0] += 1; sent[0] -= 1
                    time.sleep(float(r.headers['retry-after']))
                else:
                    with lock: lost.append(f'{r.status_code}')
    peak = [0]
    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], server.memory_info().rss); time.sleep(0.05)
    watcher = threading.Thread(target=watch); watcher.start()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool: list(pool.map(lambda _: client(), range(clients)))
    seconds = time.perf_counter() - t0
    stop.set(); watcher.join()
    return {'ok': len(latencies), 'refused': refused[0], 'lost': len(lost), 'lost_kinds': sorted(set(lost)), 'seconds': seconds,
            'latencies': latencies, 'rss_mb': peak[0] / 2 ** 20}


def start_server(models: Path, state: Path, workers: int, max_pending: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'TQDM_DISABLE': '1'}
    env.pop('BIG_MOOD_TOKEN', None)
    proc = subprocess.Popen([sys.executable, '-c', 'import sys; from big_mood.cli import main; sys.exit(main(sys.argv[1:]))', 'serve',
                             '--models', str(models), '--state', str(state), '--port', str(port), '--workers', str(workers),
                             '--max-pending', str(max_pending), '--timeout', '300'],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    for _ in range(1800):
        if proc.poll() is not None: raise SystemExit(f'the service exited with status {proc.returncode}')
        try:
            if httpx.get(f'{url}/health', timeout=1).status_code == 200: return proc, url
        except httpx.TransportError: time.sleep(0.1)
    proc.kill(); raise SystemExit('the service did not start within 180 s')


def row(name: str, r: dict, baseline: dict | None) -> str:
    lat = np.array(r['latencies']) * 1000
    rate = r['ok'] / r['seconds']
    ratio = f"{rate / (baseline['ok'] / baseline['seconds']):6.2f}" if baseline else '     -'
    p50, p99 = (f'{np.percentile(lat, 50):8.0f}', f'{np.percentile(lat, 99):8.0f}') if len(lat) else ('       -',) * 2
    rss = f"{r['rss_mb']:8.0f}" if r['rss_mb'] else '       -'
    return f"{name:<28}{r['ok']:>5}{r['refused']:>8}{r['lost']:>5}{rate:>9.2f}{ratio}{p50}{p99}{rss}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--models', help='population folder (default: a small population trained on synthetic cohorts in a temporary folder)')
    p.add_argument('--clients', nargs='+', type=int, default=[1, 8, 32])
    p.add_argument('--endpoints', nargs='+', default=['/v1/pat/embed', '/v1/features'], choices=['/v1/pat/embed', '/v1/features'])
    p.add_argument('--requests', type=int, default=48, help='answered requests per level at most')
    p.add_argument('--max-seconds', type=float, default=60.0, help='seconds per level at most')
    p.add_argument('--workers', type=int, default=2, help="the server's inference threads (its default)")
    p.add_argument('--max-pending', type=int, default=16, help="requests waiting for a thread at most (the server's default)")
    args = p.parse_args()
    os.environ.setdefault('TQDM_DISABLE', '1')
    from big_mood.personal.population import synthetic_population
    from big_mood.serve.inference import load_models
    tmp = Path(tempfile.mkdtemp(prefix='bench-serve-'))
    folder = Path(args.models) if args.models else tmp / 'population'
    if not args.models: synthetic_population(folder)
    models = load_models(folder)
    print(f"models: {folder} ({', '.join(i['name'] for i in models.info)}){'' if args.models else ', synthetic_population: demonstration models trained on synthetic cohorts'}")
    print(f"server: --workers {args.workers} --max-pending {args.max_pending}; load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    proc, url = start_server(folder, tmp / 'state', args.workers, args.max_pending)
    server = psutil.Process(proc.pid)
    try:
        idle = server.memory_info().rss / 2 ** 20
        print(f"server idle RSS: {idle:.0f} MB\n")
        print(f"{'':<28}{'ok':>5}{'refused':>8}{'lost':>5}{'req/s':>9}{'ratio':>6}{'p50 ms':>8}{'p99 ms':>8}{'RSS MB':>8}")
        lost = 0
        for endpoint, (body, arg) in payloads().items():
            if endpoint not in args.endpoints: continue
            print(endpoint)
            base1 = direct(models, endpoint, arg, 1, args.requests, args.max_seconds)
            basew = direct(models, endpoint, arg, args.workers, args.requests, args.max_seconds)
            print(row('  direct, 1 caller', base1, None))
            print(row(f'  direct, {args.workers} callers', basew, base1))
            for clients in args.clients:
                r = load(url, endpoint, body, clients, args.requests, args.max_seconds, server)
                lost += r['lost']
                print(row(f'  HTTP, {clients} client{"s" * (clients > 1)}', r, basew) + (f"  lost: {', '.join(r['lost_kinds'])}" if r['lost'] else ''))
        print(f"\nratio: HTTP requests/s over direct calls/s with {args.workers} callers (the server's threads); "
              f"refused: 503 with Retry-After; lost: anything else (must be 0). Load average after: {os.getloadavg()[0]:.1f}")
        if lost: raise SystemExit(f'{lost} request(s) lost')
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill()


if __name__ == '__main__':
    main()
