"""Measure (not assert) the web app's camera-to-page latency and the server's CPU while streaming.

    python tests/web_stream_bench.py [--seconds 15] [--pages 1] [--json out.json]

Starts ``jetracer web --sim`` on 127.0.0.1, opens ``--pages`` Drive pages in headless Chromium and
records, per frame drawn on the page, its age (capture stamp -> decoded on the page, clocks aligned by
the page's pings). CPU is the server process's user+system time over the window, first with no page
(the simulator rendering 30 fps on its own), then while streaming: the difference is what streaming costs.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_web_browser import CHROMIUM, CHROMIUM_ARGS, Server  # noqa: E402


def cpu_share(proc, seconds):
    import psutil

    p = psutil.Process(proc.pid)
    t0, c0 = time.monotonic(), p.cpu_times()
    time.sleep(seconds)
    t1, c1 = time.monotonic(), p.cpu_times()
    return ((c1.user - c0.user) + (c1.system - c0.system)) / (t1 - t0)


def pct(values, q):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q / 100.0 * (len(values) - 1))))], 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--pages", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = Server(Path(tempfile.mkdtemp(prefix="jetracer-web-bench-")))
    try:
        time.sleep(2.0)
        idle = cpu_share(server.proc, args.seconds / 2)
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(tempfile.mkdtemp(), executable_path=CHROMIUM,
                                                            headless=True, args=CHROMIUM_ARGS, bypass_csp=True)
            page = context.new_page()
            page.goto(server.url + "/login")
            page.fill("#token", server.token)
            page.click("button[type=submit]")
            page.wait_for_url("**/drive")
            pages = [page] + [context.new_page() for _ in range(args.pages - 1)]
            for p in pages[1:]:
                p.goto(server.url + "/drive")
            for p in pages:
                p.wait_for_function("JR.seq > 0")
            time.sleep(1.0)
            for p in pages:
                p.evaluate("JR.ages.length = 0")
            seq0 = page.evaluate("JR.seq")
            streaming = cpu_share(server.proc, args.seconds)
            ages = page.evaluate("JR.ages.slice()")
            fps = (page.evaluate("JR.seq") - seq0) / args.seconds
            context.close()
    finally:
        server.stop()
    result = {"machine": "%s, %d cores" % (platform.processor() or platform.machine(), os.cpu_count()),
              "pages": args.pages, "seconds": args.seconds, "frames_on_page": len(ages),
              "page_fps": round(len(ages) / args.seconds, 1), "camera_seq_rate": round(fps, 1),
              "camera_to_page_ms": {"p50": pct(ages, 50), "p99": pct(ages, 99)},
              "server_cpu_share_of_one_core": {"idle_sim_only": round(idle, 3), "streaming": round(streaming, 3),
                                               "streaming_cost": round(streaming - idle, 3)}}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
