#!/usr/bin/python3
"""Checks an auratag HTML report in a real browser: headless Chromium driven
through the Chrome DevTools Protocol (CDP), so the report's own JavaScript,
images and audio are exercised the way a reader's browser would, not just
grepped.

    tests/report/browser_check.py REPORT.html --screenshot OUT.png [--results RESULTS.json ...]
                                  [--chromium /usr/bin/chromium] [--timeout 60]

It starts Chromium itself (headless, a throwaway profile, --no-sandbox as root
needs), opens REPORT.html as a file: URL and prints one line per check, "ok: ..."
or "FAILED: ..." (then exit status 1):
  errors      no uncaught exception, console.error / failed console.assert or
              browser error log entry while loading the page or clicking its
              headers (console.warn lines are printed, not failed)
  images      at least one <img>; every src a data: URI that decodes
              (img.decode()) to a non-empty bitmap; no <link>, <script>, <img>,
              <audio>, <source> or fetched resource with an http:, https: or
              file: URL (relative URLs are file: ones): one self-contained file
  audio       every <audio> has a data:audio/ src (or <source> child) whose
              metadata loads to a finite duration > 0; none at all is fine
  screenshot  OUT.png: the whole page as loaded, 1400 px wide (at most 16000 high)
  tables      per --results RESULTS.json (a training run's results.json):
              <table class="sortable" data-table="test-tags" data-run="RUN">
              has one <tbody> row <tr data-tag="TAG"> per test.clip.tags entry,
              under <thead> cells <th data-key="tag|positives|roc_auc|pr_auc">,
              each <td data-value="..."> equal to the JSON (relative 1e-9;
              null <-> "NaN"; the tag cell holds the tag). A run without "test"
              has no such table and the page says "no test evaluation".
  sorting     in the first test-tags table, clicking th[data-key="roc_auc"]
              sorts the rows by ROC-AUC (either direction, NaN rows last;
              if they were sorted already a second click must reverse them),
              clicking th[data-key="tag"] sorts them by tag
Exit status 2: Chromium or the websocket module is missing.
"""
import argparse, base64, json, math, os, pathlib, shutil, signal, subprocess, sys, tempfile, time, urllib.request

try:
    import websocket  # Debian's python3-websocket (websocket-client)
except ImportError:
    websocket = None

INSTALL = "install Debian packages chromium and python3-websocket: bash scripts/install-deps.sh"


class Fatal(Exception):
    """A failure after which no further check can run."""


class CDP:
    """One CDP websocket: send() waits for its command's result, queueing the events that arrive meanwhile."""

    def __init__(self, url, deadline, timeout):
        self.deadline, self.timeout, self.next_id, self.events = deadline, timeout, 0, []
        self.ws = websocket.create_connection(url, suppress_origin=True, timeout=self._left("connecting"))

    def _left(self, what):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Fatal(f"timed out ({self.timeout:g} s) {what}")
        return left

    def _recv(self, what, limit=None):
        self.ws.settimeout(min(self._left(what), limit) if limit else self._left(what))
        try:
            msg = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            if limit is not None and self.deadline - time.monotonic() > 0:
                return None
            raise Fatal(f"timed out ({self.timeout:g} s) {what}")
        if "method" in msg:
            self.events.append(msg)
        return msg

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = self._recv(f"waiting for {method}")
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise Fatal(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})

    def wait_event(self, method):
        while not any(e["method"] == method for e in self.events):
            self._recv(f"waiting for {method}")

    def pump(self, seconds):
        """Queue the events of the next `seconds`."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._recv("reading events", limit=left)

    def evaluate(self, expression):
        r = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise Fatal(f"check script failed: {d.get('exception', {}).get('description') or d.get('text')}")
        return r["result"].get("value")


def describe(event):
    """(severity, text) of a page error or warning event, or None."""
    m, p = event["method"], event.get("params", {})
    if m == "Runtime.exceptionThrown":
        d = p["exceptionDetails"]
        text = d.get("exception", {}).get("description") or d.get("text")
        return "error", f"uncaught exception: {text} ({d.get('url', '')}:{d.get('lineNumber', 0) + 1})"
    if m == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert", "warning"):
        args = " ".join(str(a.get("value", a.get("description", a.get("type")))) for a in p.get("args", []))
        frames = p.get("stackTrace", {}).get("callFrames", [])
        where = f" ({frames[0]['url']}:{frames[0]['lineNumber'] + 1})" if frames else ""
        kind = {"warning": "warn"}.get(p["type"], p["type"])
        return ("warning" if kind == "warn" else "error"), f"console.{kind}: {args}{where}"
    if m == "Log.entryAdded" and p["entry"]["level"] == "error":
        e = p["entry"]
        return "error", f"browser log ({e.get('source')}): {e.get('text')} {e.get('url', '')}".rstrip()
    return None


LABEL_JS = r"""const label = el => {
  const own = el.getAttribute('alt') || el.getAttribute('title') || el.getAttribute('aria-label');
  if (own) return own;
  const cap = el.closest('figure')?.querySelector('figcaption')?.textContent.trim();
  if (cap) return cap.slice(0, 80);
  let h = null;
  for (const x of document.querySelectorAll('h1,h2,h3,h4,h5,h6'))
    if (x.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) h = x;
  return h ? `after heading "${h.textContent.trim().slice(0, 60)}"` : '(no alt text or heading)';
};"""

IMAGES_JS = "(() => {" + LABEL_JS + r"""
const timeout = ms => new Promise(r => setTimeout(() => r(`decode timed out (${ms / 1000} s)`), ms));
return Promise.all([...document.images].map(async (img, i) => {
  if (img.loading === 'lazy') img.loading = 'eager';
  const error = await Promise.race([img.decode().then(() => null, e => String(e)), timeout(5000)]);
  return {i, label: label(img), src: (img.getAttribute('src') || '').slice(0, 40),
          w: img.naturalWidth, h: img.naturalHeight, error};
}));})()"""

EXTERNAL_JS = r"""(() => {
  const bad = new Map(), remote = /^(https?|file):/i;
  for (const el of document.querySelectorAll('link[href], script[src], img, audio[src], source[src], video[src], iframe[src]')) {
    const raw = el.getAttribute('href') ?? el.getAttribute('src') ?? '';
    const url = el.currentSrc || el.href || el.src || raw;
    if (remote.test(url) || raw.startsWith('//')) bad.set(url, `<${el.tagName.toLowerCase()}> ${raw.slice(0, 80)}`);
  }
  for (const r of performance.getEntriesByType('resource'))  // CSS url(), fonts, fetch()
    if (remote.test(r.name) && !bad.has(r.name)) bad.set(r.name, `fetched ${r.name.slice(0, 80)}`);
  return [...bad.values()];
})()"""

AUDIO_JS = "(() => {" + LABEL_JS + r"""
return Promise.all([...document.querySelectorAll('audio')].map(async (a, i) => {
  const srcs = [a.getAttribute('src'), ...[...a.querySelectorAll('source')].map(s => s.getAttribute('src'))].filter(s => s);
  if (a.readyState < 1) {
    const ready = new Promise(r => { a.addEventListener('loadedmetadata', r, {once: true});
                                     a.addEventListener('error', r, {once: true}); setTimeout(r, 5000); });
    if (a.preload === 'none' || a.networkState === a.NETWORK_EMPTY || a.networkState === a.NETWORK_NO_SOURCE) {
      a.preload = 'metadata';
      a.load();
    }
    await ready;
  }
  return {i, label: label(a), src: (srcs[0] || '(none)').slice(0, 40), data: srcs.some(s => /^data:audio\//i.test(s)),
          duration: String(a.duration), error: a.error ? `media error ${a.error.code} ${a.error.message}` : null};
}));})()"""

TABLES_JS = r"""[...document.querySelectorAll('table[data-table="test-tags"]')].map(t => {
  const head = t.tHead ? t.tHead.rows[t.tHead.rows.length - 1] : null;
  const keys = head ? [...head.cells].map(c => c.dataset.key || '') : [];
  const rows = [...t.tBodies].flatMap(b => [...b.rows]).map(tr => {
    const v = {};
    [...tr.cells].forEach((td, i) => { if (keys[i]) v[keys[i]] = td.dataset.value ?? null; });
    return {tag: tr.dataset.tag ?? null, v};
  });
  const col = new Intl.Collator(), tags = rows.map(r => r.tag ?? '');
  const locale = dir => tags.every((t, i) => !i || dir * col.compare(tags[i - 1], t) <= 0);
  return {run: t.dataset.run ?? null, keys, rows, tagLocale: {asc: locale(1), desc: locale(-1)}};
})"""


def click_and_read(cdp, key):
    """Click th[data-key=key] of the first test-tags table, let the handler run, read that table again."""
    js = (f"(async () => {{ const th = document.querySelector('table[data-table=\"test-tags\"] th[data-key={json.dumps(key)}]');"
          f" if (!th) return null; th.click(); await new Promise(r => setTimeout(r, 50)); return ({TABLES_JS})[0]; }})()")
    table = cdp.evaluate(js)
    if table is None:
        raise Fatal(f'first test-tags table has no <th data-key="{key}">')
    return table


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def same(json_value, cell):
    v = number(cell)
    if json_value is None:
        return v is not None and math.isnan(v)
    return v is not None and math.isclose(v, json_value, rel_tol=1e-9)


def direction(values):
    """'descending' / 'ascending' / 'constant' if values (NaN last) are sorted, else None."""
    n = next((i for i, v in enumerate(values) if math.isnan(v)), len(values))
    head = values[:n]
    if not all(math.isnan(v) for v in values[n:]):
        return None
    if all(a == b for a, b in zip(head, head[1:])):
        return "constant"
    if all(a >= b for a, b in zip(head, head[1:])):
        return "descending"
    if all(a <= b for a, b in zip(head, head[1:])):
        return "ascending"
    return None


def check_tables(cdp, results, ok, fail):
    tables = cdp.evaluate(TABLES_JS)
    body = cdp.evaluate("document.body.innerText").lower()
    for path in results:
        try:
            with open(path) as f:
                compare_run(json.load(f), path, tables, body, ok, fail)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            fail(f"{path}: unreadable or malformed results.json ({type(e).__name__}: {e})")
    return tables


def compare_run(res, path, tables, body, ok, fail):
    """One results.json against the report's test-tags tables for its run."""
    run = res["run"]
    mine = [t for t in tables if t["run"] == run]
    if "test" not in res:
        if mine:
            fail(f"run {run} ({path}) has no test evaluation but the report has a test-tags table for it")
        elif "no test evaluation" not in body:
            fail(f'run {run} ({path}) has no test evaluation and the page does not say "no test evaluation"')
        else:
            ok(f"run {run}: no test evaluation, no table, and the page says so")
        return
    tags = res["test"]["clip"].get("tags")
    if tags is None:
        return ok(f"run {run}: single-label run, no per-tag table to compare")
    if not mine:
        fail(f'no <table data-table="test-tags" data-run="{run}"> for {path} (tables for: {[t["run"] for t in tables]})')
    for t in mine:
        bad = [f'missing <th data-key="{k}">' for k in ("tag", "positives", "roc_auc", "pr_auc") if k not in t["keys"]]
        if len(t["rows"]) != len(tags):
            bad.append(f"{len(t['rows'])} body rows, results.json has {len(tags)} tags")
        rows = {r["tag"]: r["v"] for r in t["rows"]}
        for tag in tags:
            row = rows.get(tag["tag"])
            if row is None:
                bad.append(f'no row data-tag="{tag["tag"]}"')
                continue
            if row.get("tag") != tag["tag"]:
                bad.append(f"tag {tag['tag']}: tag cell data-value {row.get('tag')!r}")
            for key in ("positives", "roc_auc", "pr_auc"):
                if key in t["keys"] and not same(tag[key], row.get(key)):
                    want = "NaN" if tag[key] is None else tag[key]
                    bad.append(f"tag {tag['tag']}: {key} data-value {row.get(key)!r}, results.json {want}")
        for b in bad:
            fail(f"table {run}: {b}")
        if not bad:
            ok(f"table {run}: {len(tags)} tags equal {path}")


def check_sorting(cdp, tables, ok, fail):
    if not tables:
        ok("sorting: no test-tags table in the report, nothing to sort")
        return
    before = [r["tag"] for r in tables[0]["rows"]]
    roc = lambda t: [number(r["v"].get("roc_auc")) for r in t["rows"]]
    t = click_and_read(cdp, "roc_auc")
    if None in roc(t):
        return fail(f"sorting: roc_auc cells without a numeric data-value: {[r['v'].get('roc_auc') for r in t['rows']]}")
    first, after = direction(roc(t)), [r["tag"] for r in t["rows"]]
    if first is None:
        return fail(f"sorting: clicking roc_auc did not sort the rows by ROC-AUC (NaN last): {roc(t)}")
    if first == "constant":
        ok(f"sorting by roc_auc: all {len(after)} rows have the same ROC-AUC, order not checked")
    elif after != before:
        ok(f"sorting by roc_auc reorders rows ({first})")
    else:  # already sorted that way: the second click must reverse it
        t = click_and_read(cdp, "roc_auc")
        second = direction(roc(t))
        if second in (None, first) or [r["tag"] for r in t["rows"]] == before:
            return fail(f"sorting: rows were already {first} by roc_auc and a second click did not reverse them: {roc(t)}")
        ok(f"sorting by roc_auc: {first}, then {second} on a second click")
    t = click_and_read(cdp, "tag")
    tags = [r["tag"] or "" for r in t["rows"]]
    dirs = [d for d, js, rev in (("ascending", "asc", False), ("descending", "desc", True))
            if t["tagLocale"][js] or any(tags == sorted(tags, key=k, reverse=rev) for k in (str, str.casefold))]
    if not dirs:
        return fail(f"sorting: clicking the tag header did not sort the rows alphabetically: {tags}")
    ok(f"sorting by tag: alphabetical ({dirs[0]})")


def launch(chromium, tmp, log, deadline):
    profile = os.path.join(tmp, "profile")
    env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=f"{tmp}/config", XDG_CACHE_HOME=f"{tmp}/cache")  # crash reports, dconf
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
             "--mute-audio", f"--user-data-dir={profile}", "--remote-debugging-port=0", "--remote-allow-origins=*",
             "--window-size=1400,1000", "about:blank"]
    proc = subprocess.Popen([chromium, *flags], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                            env=env, start_new_session=True)  # its own process group: cleanup kills renderers too
    port_file = os.path.join(profile, "DevToolsActivePort")
    while True:
        if proc.poll() is not None:
            log.flush()
            with open(log.name, errors="replace") as f:
                tail = f.read()[-2000:].strip() or "(no output)"
            raise Fatal(f"chromium exited with status {proc.returncode} before opening its DevTools port:\n{tail}")
        try:
            with open(port_file) as f:
                port = int(f.readline())
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5))
            page = next(t for t in targets if t.get("type") == "page")
            return proc, page["webSocketDebuggerUrl"]
        except (OSError, ValueError, StopIteration):
            pass
        if time.monotonic() > deadline:
            raise Fatal("timed out waiting for chromium's DevTools port (--timeout)")
        time.sleep(0.05)


def check_images(cdp, ok, fail):
    images, kinds = cdp.evaluate(IMAGES_JS), {}
    for img in images:
        name = f"image #{img['i'] + 1} ({img['label']}, src {img['src']!r})"
        if not img["src"].startswith("data:"):
            fail(f"{name} is not a data: URI: the report must be self-contained")
        elif img["error"] or not img["w"] or not img["h"]:
            fail(f"{name} does not decode: {img['error'] or 'size %dx%d' % (img['w'], img['h'])}")
        else:
            kind = img["src"][5:].split(";")[0].split(",")[0]
            kinds[kind] = kinds.get(kind, 0) + 1
    if not images:
        fail("no <img> in the report")
    elif sum(kinds.values()) == len(images):
        ok(f"{len(images)} images decoded ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})")
    external = cdp.evaluate(EXTERNAL_JS)
    for ref in external:
        fail(f"external reference (the report must be self-contained): {ref}")
    if not external:
        ok("no http:, https: or file: references")


def check_audio(cdp, ok, fail):
    audio, problems = cdp.evaluate(AUDIO_JS), []
    for a in audio:
        name, d = f"audio #{a['i'] + 1} ({a['label']}, src {a['src']!r})", float(a["duration"])
        if not a["data"]:
            problems.append(f"{name} has no data:audio/ source")
        elif not (math.isfinite(d) and d > 0):
            problems.append(f"{name}: duration {a['duration']}{', ' + a['error'] if a['error'] else ''}")
    for problem in problems:
        fail(problem)
    if not problems:
        ok(f"{len(audio)} audio elements load ({', '.join('%.2f s' % float(a['duration']) for a in audio) or 'none'})")


def screenshot(cdp, path, ok, fail):
    metrics = cdp.send("Page.getLayoutMetrics")
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    height = max(1, min(16000, math.ceil(size["height"])))
    cdp.send("Emulation.setDeviceMetricsOverride", width=1400, height=height, deviceScaleFactor=1, mobile=False)
    # captureBeyondViewport alone captures the whole page: the clip holds it to the cap
    clip = {"x": 0, "y": 0, "width": 1400, "height": height, "scale": 1}
    png = base64.b64decode(cdp.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                    clip=clip)["data"])
    if not png:
        return fail("screenshot is empty")
    with open(path, "wb") as f:
        f.write(png)
    ok(f"screenshot {path} ({len(png)} bytes, 1400x{height})")


def check(cdp, args, ok, fail, warn):
    for domain in ("Runtime", "Log", "Page"):  # events are queued from here on
        cdp.send(f"{domain}.enable")
    nav = cdp.send("Page.navigate", url=pathlib.Path(args.report).resolve().as_uri())
    if nav.get("errorText"):
        raise Fatal(f"loading {args.report}: {nav['errorText']}")
    cdp.wait_event("Page.loadEventFired")
    cdp.pump(0.5)  # late errors: timers, promise rejections
    seen = 0

    def page_errors(when):
        nonlocal seen
        found = [d for d in map(describe, cdp.events[seen:]) if d]
        seen = len(cdp.events)
        for severity, text in found:
            if severity == "warning":
                warn(text)
            else:
                fail(f"{when}: {text}")
        if not any(severity == "error" for severity, _ in found):
            ok(f"no JavaScript errors {when}")

    page_errors("while loading")
    check_images(cdp, ok, fail)
    check_audio(cdp, ok, fail)
    screenshot(cdp, args.screenshot, ok, fail)  # the report as loaded, before the clicks below reorder its tables
    tables = check_tables(cdp, args.results, ok, fail)
    check_sorting(cdp, tables, ok, fail)
    cdp.pump(0.2)
    page_errors("after clicking the table headers")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report")
    p.add_argument("--screenshot", required=True, help="write a full-page PNG here")
    p.add_argument("--results", action="extend", nargs="+", default=[], help="runs' results.json (one or more; repeatable)")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--timeout", type=float, default=60, help="seconds for the whole check (default 60)")
    args = p.parse_args()
    chromium = shutil.which(args.chromium)
    if websocket is None or chromium is None:
        print(f"browser_check: {'chromium' if websocket else 'the python3 websocket module'} missing; {INSTALL}", file=sys.stderr)
        return 2
    failures = []
    ok = lambda msg: print(f"ok: {msg}", flush=True)
    warn = lambda msg: print(f"warning: {msg}", flush=True)

    def fail(msg):
        failures.append(msg)
        print(f"FAILED: {msg}", flush=True)

    start = time.monotonic()
    deadline = start + args.timeout
    tmp = tempfile.mkdtemp(prefix="browser_check.")
    proc = cdp = None
    try:
        if not os.path.isfile(args.report):
            raise Fatal(f"no report {args.report}")
        with open(os.path.join(tmp, "chromium.log"), "w+b") as log:
            proc, url = launch(chromium, tmp, log, deadline)
            cdp = CDP(url, deadline, args.timeout)
            check(cdp, args, ok, fail, warn)
    except (Fatal, OSError, websocket.WebSocketException, ValueError, KeyError, TypeError) as e:
        fail(str(e) if isinstance(e, Fatal) else f"{type(e).__name__}: {e}")
    finally:
        if cdp:
            cdp.ws.close()
        if proc:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group chromium leads: browser, zygote, renderers
            except ProcessLookupError:
                pass
            proc.wait()
        for _ in range(20):  # crashpad handlers (own sessions) may still write there briefly
            shutil.rmtree(tmp, ignore_errors=True)
            if not os.path.exists(tmp):
                break
            time.sleep(0.1)
    print(f"browser_check: {len(failures)} failure(s) in {time.monotonic() - start:.1f} s" if failures
          else f"browser_check: all passed in {time.monotonic() - start:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
