// bench:ui — the web view in Debian's headless chromium: how soon a loaded page paints its edges, and how
// long a status change takes to appear in an open page (feed → render → server-sent event → DOM).
//
// In-process: a StatusBoard feeds the server with TOPOLOGIES copies of a five-member diamond (the browser
// test's shape). Page loads are timed in fresh browser contexts (first contentful paint: the edges are in
// the HTML, so they are in the first paint); each update flips one channel between Running and Connecting
// and is timed from the feed's set() to the page's MutationObserver seeing it (one wall clock for both).
// Prints figures only.
import type { TopologyStatus } from '../src/api/status.js';
import { StatusBoard } from '../src/ui/feed.js';
import { renderTopology } from '../src/ui/render.js';
import { startUiServer } from '../src/ui/server.js';
import { launchBrowser } from '../test/harness/browser.js';
import { diamond } from '../test/unit/ui/statuses.js';
import { envNumber, ms, sleep, summarize } from './common.js';

const TOPOLOGIES = envNumber('BENCH_UI_TOPOLOGIES', 20);
const LOADS = envNumber('BENCH_UI_LOADS', 10);
const UPDATES = envNumber('BENCH_UI_UPDATES', 50);

const refOf = (i: number) => ({ namespace: 'db', name: `t${String(i).padStart(2, '0')}` });
const flipped = (n: number): TopologyStatus =>
  diamond((s) => {
    const c = s.channels[1]!;
    s.channels[1] = n % 2 ? { ...c, state: 'Connecting', ioRunning: 'Connecting' } : c;
  });

const line = (label: string, samples: number[]) => {
  const s = summarize(samples);
  console.log(`${label.padEnd(34)} n=${s.n}  p50 ${ms(s.p50)} ms  p95 ${ms(s.p95)} ms  max ${ms(s.max)} ms`);
};

const board = new StatusBoard();
for (let i = 0; i < TOPOLOGIES; i++) board.set(refOf(i), diamond());
const server = await startUiServer({ feed: board, port: 0 });
const browser = await launchBrowser();
try {
  const renders: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    renderTopology(refOf(0), flipped(i));
    renders.push(performance.now() - t);
  }
  const page0 = await (await browser.newContext()).newPage();
  await page0.goto(server.url);
  const bytes = (await page0.content()).length;
  await page0.context().close();
  console.log(
    `bench:ui — ${TOPOLOGIES} topologies of 5 members and 5 channels; page ${(bytes / 1024).toFixed(0)} KiB`,
  );
  line('render one topology (server)', renders);

  const fcp: number[] = [];
  const edges: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(server.url);
    await page.waitForSelector('[data-channel]');
    edges.push(Date.now() - t0);
    fcp.push(
      (await page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN",
      )) as number,
    );
    await context.close();
  }
  line('page load → first contentful paint', fcp);
  line('page load → edges in the DOM', edges);

  const page = await (await browser.newContext()).newPage();
  await page.goto(server.url);
  await page.locator('#live.on').waitFor();
  await page.evaluate(`(() => {
    window.__seen = [];
    let last = null;
    new MutationObserver(() => {
      const e = document.querySelector('section[data-topology="db/t00"] [data-channel="l-0/hub"]');
      const state = e && e.getAttribute('data-state');
      if (state !== last) { last = state; window.__seen.push({ t: Date.now(), state }); }
    }).observe(document.getElementById('topologies'), { subtree: true, childList: true, attributes: true });
  })()`);
  const delays: number[] = [];
  for (let i = 1; i <= UPDATES; i++) {
    const t0 = Date.now();
    board.set(refOf(0), flipped(i));
    // Polled with evaluate: the page's policy forbids the eval that waitForFunction(string) needs.
    let seen: { t: number } | undefined;
    for (let tries = 0; !seen && tries < 2000; tries++) {
      seen = (await page.evaluate(`window.__seen[${i - 1}]`)) as { t: number } | undefined;
      if (!seen) await sleep(2);
    }
    if (!seen) throw new Error(`update ${i} never appeared in the page`);
    delays.push(seen.t - t0);
    await sleep(20);
  }
  line('status change → shown in the page', delays);
} finally {
  await browser.close();
  await server.close();
}
