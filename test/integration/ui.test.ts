// The web view in a real headless browser (Debian's chromium through playwright-core), on real MariaDB
// servers: a diamond (hub feeds left and right, both feed sink) whose sink is a multi-source replica,
// converged by `tributary local --once`, then watched live through `tributary local --ui-port` while the
// hub's primary is killed and failed over; last, `tributary ui` observes the result without writing.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopologyStatus } from '../../src/api/status.js';
import { sandboxManifests, sandboxMember, type Sandbox } from '../../src/sandbox/index.js';
import { launchBrowser, RECORD_EDGES, type EdgeSeen } from '../harness/browser.js';
import { useSandbox } from '../harness/sandbox.js';
import { BIN, cli, writeManifests } from '../harness/topology.js';

const MEMBERS = ['h-0', 'h-1', 'l-0', 'r-0', 'k-0'];

function diamondDocs(sb: Sandbox): unknown[] {
  const m = (name: string, extra: Record<string, unknown> = {}) => sandboxMember(sb, name, extra);
  // A short detection window, so that the dead primary's edges stay Connecting for a moment and the
  // failover follows soon.
  return sandboxManifests({
    name: 'diamond',
    spec: {
      failover: {
        enabled: true,
        pollIntervalSeconds: 1,
        cooldownSeconds: 300,
        downAfterSeconds: 2,
        failureThreshold: 3,
      },
      groups: [
        { name: 'hub', members: [m('h-0', { promotionRule: 'prefer' }), m('h-1')] },
        { name: 'left', members: [m('l-0')], channels: [{ name: 'hub', from: 'hub' }] },
        { name: 'right', members: [m('r-0')], channels: [{ name: 'hub', from: 'hub' }] },
        {
          name: 'sink',
          members: [m('k-0')],
          channels: [
            { name: 'left', from: 'left', filter: { doDatabases: ['left_db'] } },
            { name: 'right', from: 'right', filter: { doDatabases: ['right_db'] } },
          ],
        },
      ],
    },
  });
}

/** Starts a long-running command and resolves with the URL it prints (`… http://…/ …`). */
async function startServing(
  args: string[],
): Promise<{ child: ChildProcess; url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' },
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no URL printed in 30 s; stderr: ${stderr}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code} before serving; stderr: ${stderr}`)));
  });
  return {
    child,
    url,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
  };
}

const edges = (page: Page) =>
  page.locator('[data-channel]').evaluateAll((els) =>
    els.map((e) => ({
      key: e.getAttribute('data-channel')!,
      from: e.getAttribute('data-from')!,
      state: e.getAttribute('data-state')!,
      managed: e.classList.contains('managed'),
    })),
  );

/** Each member's routing mark, as the page has it. */
const routing = async (page: Page) =>
  Object.fromEntries(
    await page
      .locator('[data-member][data-routing]')
      .evaluateAll((els) =>
        els.map((e) => [e.getAttribute('data-member')!, e.getAttribute('data-routing')!]),
      ),
  ) as Record<string, string>;

describe('web view of a diamond with a multi-source replica, in a real browser', () => {
  const sb = useSandbox({ names: MEMBERS });
  let browser: Browser;
  let page: Page;
  let file = '';
  let statusFile = '';
  let local: Awaited<ReturnType<typeof startServing>> | undefined;

  beforeAll(async () => {
    file = writeManifests(join(sb().dir, 'diamond.yaml'), diamondDocs(sb()));
    statusFile = join(sb().dir, 'status.json');
    const r = await cli(['local', '-f', file, '--once', '--status-out', statusFile]);
    expect(r.code, r.stderr).toBe(0);
    // A channel made by hand: the view draws it dashed, and nobody touches it.
    await sb()
      .server('k-0')
      .sql(
        `CHANGE MASTER 'manual' TO MASTER_HOST='127.0.0.1', MASTER_PORT=${sb().server('h-1').port}, MASTER_USER='nobody', MASTER_PASSWORD='x'`,
      );
    await sb().server('l-0').sql('CREATE DATABASE left_db');
    await sb().server('l-0').sql('CREATE TABLE left_db.t (id INT PRIMARY KEY)');
    await sb().server('r-0').sql('CREATE DATABASE right_db');
    await sb().server('r-0').sql('CREATE TABLE right_db.t (id INT PRIMARY KEY)');
    // A routing hook that takes every step: the view marks the routed writer and readers.
    local = await startServing([
      'local',
      '-f',
      file,
      '--status-out',
      statusFile,
      '--ui-port',
      '0',
      '--routing-hook',
      'cat >/dev/null',
    ]);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  });

  afterAll(async () => {
    await browser?.close();
    if (local?.child.exitCode === null) local.child.kill('SIGKILL');
  });

  it('draws one edge per channel from its source member, the diamond by rank, the hand-made channel dashed', async () => {
    const t0 = Date.now();
    await page.goto(local!.url);
    await page.waitForSelector('[data-channel]');
    const firstEdges = Date.now() - t0;
    const fcp = await page.evaluate(
      () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1,
    );
    console.log(
      `[ui] page load → edges in the DOM: ${firstEdges} ms; first contentful paint: ${Math.round(fcp)} ms`,
    );
    await expect.poll(() => page.locator('[data-state="Running"]').count(), { timeout: 20_000 }).toBe(5);
    expect(await edges(page)).toEqual([
      { key: "h-1/''", from: 'h-0', state: 'Running', managed: true },
      { key: 'l-0/hub', from: 'h-0', state: 'Running', managed: true },
      { key: 'r-0/hub', from: 'h-0', state: 'Running', managed: true },
      { key: 'k-0/left', from: 'l-0', state: 'Running', managed: true },
      { key: 'k-0/manual', from: 'h-1', state: 'Stopped', managed: false },
      { key: 'k-0/right', from: 'r-0', state: 'Running', managed: true },
    ]);
    for (const m of MEMBERS) await expect(page.locator(`[data-member="${m}"]`).count()).resolves.toBe(1);
    // Groups in columns by rank: hub, then left and right together, then sink.
    const x = async (g: string) => (await page.locator(`[data-group="${g}"] rect`).boundingBox())!.x;
    const [hub, left, right, sink] = [await x('hub'), await x('left'), await x('right'), await x('sink')];
    expect(hub).toBeLessThan(left);
    expect(left).toBe(right);
    expect(right).toBeLessThan(sink);
    expect(
      await page
        .locator('[data-channel="k-0/manual"] .line')
        .evaluate('(e) => getComputedStyle(e).strokeDasharray'),
    ).not.toBe('none');
    // Details on selection: the channel's filter and GTID sets.
    await page.click('[data-channel="k-0/right"] .label');
    const details = page.locator('[data-details="channel:k-0/right"]');
    await expect(details.isVisible()).resolves.toBe(true);
    expect(await details.textContent()).toContain('right_db');
    expect(await page.locator('[data-details="channel:k-0/left"]').isVisible()).toBe(false);
    expect(await page.content()).not.toMatch(/replpass|adminpass|MASTER_PASSWORD/);
  });

  it("marks the routed writer and the readers with badges on their member's node", async () => {
    await page
      .locator('[data-member="h-0"][data-routing="writes"][data-ready="true"]')
      .waitFor({ timeout: 20_000 });
    await page.locator('[data-member="h-1"][data-routing="reads"]').waitFor({ timeout: 20_000 });
    expect(await routing(page)).toEqual({
      'h-0': 'writes',
      'h-1': 'reads',
      'k-0': 'writes',
      'l-0': 'writes',
      'r-0': 'writes',
    });
    expect(await page.locator('[data-member="h-0"] .badge').textContent()).toBe('writes');
    expect(await page.locator('[data-member="h-1"] .badge').textContent()).toBe('reads');
    // Drawn on the node's top edge, within its width, and visible.
    const node = (await page.locator('[data-member="h-0"] > rect').boundingBox())!;
    const badge = (await page.locator('[data-member="h-0"] .badge rect').boundingBox())!;
    expect(badge.x).toBeGreaterThan(node.x);
    expect(badge.x + badge.width).toBeLessThan(node.x + node.width);
    expect(badge.y).toBeLessThan(node.y);
    expect(badge.y + badge.height).toBeGreaterThan(node.y);
    expect(await page.locator('[data-member="h-0"] .badge').isVisible()).toBe(true);
    expect(await page.locator('[data-group="hub"]').getAttribute('data-routing')).toBe('routed');
  });

  it('a kill -9 of the hub primary turns its edges to Connecting, then Running from the new primary', async () => {
    await page.evaluate(RECORD_EDGES);
    const killed = Date.now();
    await sb().server('h-0').kill9();
    for (const key of ['l-0/hub', 'r-0/hub'])
      await page
        .locator(`[data-channel="${key}"][data-state="Running"][data-from="h-1"]`)
        .waitFor({ timeout: 60_000 });
    const history = (await page.evaluate('window.__edgeHistory')) as EdgeSeen[];
    for (const key of ['l-0/hub', 'r-0/hub']) {
      const seen = history.filter((h) => h.key === key && h.t >= killed);
      const connecting = seen.find((h) => h.state === 'Connecting' && h.from === 'h-0');
      const back = seen.find((h) => h.state === 'Running' && h.from === 'h-1');
      expect(connecting, `${key}: ${JSON.stringify(seen)}`).toBeDefined();
      expect(back!.t).toBeGreaterThanOrEqual(connecting!.t);
      console.log(
        `[ui] ${key}: kill → Connecting in the page ${connecting!.t - killed} ms, → Running from h-1 ${back!.t - killed} ms`,
      );
    }
    await page.waitForSelector('li.failover[data-phase="Done"]', { timeout: 20_000 });
    expect(await page.locator('li.failover[data-phase="Done"] .mark').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('[data-member="h-0"]').getAttribute('class')).toContain('unreachable');
    // Writes follow the new primary; the dead one is in no endpoints; the journal says when it drained and routed.
    await page
      .locator('[data-member="h-1"][data-routing="writes"][data-ready="true"]')
      .waitFor({ timeout: 20_000 });
    expect((await routing(page))['h-0']).toBeUndefined();
    expect(await page.locator('[data-group="hub"]').getAttribute('data-routing')).toBe('routed');
    const done = await page.locator('li.failover[data-phase="Done"] dl').textContent();
    expect(done).toMatch(/drained\d{4}-/);
    expect(done).toMatch(/routed\d{4}-/);
    // The diamond and the multi-source replica are untouched.
    const after = await edges(page);
    expect(
      after.filter((e) => e.key.startsWith('k-0/') && e.managed).map((e) => [e.key, e.from, e.state]),
    ).toEqual([
      ['k-0/left', 'l-0', 'Running'],
      ['k-0/right', 'r-0', 'Running'],
    ]);
  }, 90_000);

  it('takes the screenshot for the README', async () => {
    await page.click('[data-channel="k-0/left"] .label');
    const shot = join(sb().dir, 'web-view.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
    // `npm run docs:screenshot` sets this to docs/ to refresh the README's picture.
    const dir = process.env.TRIBUTARY_SCREENSHOT_DIR;
    if (dir) copyFileSync(shot, join(dir, 'web-view.png'));
  });

  it('`tributary ui` observes without writing: a channel stopped by hand stays stopped and shows Stopped', async () => {
    await local!.stop();
    local = undefined;
    const before = statSync(statusFile).mtimeMs;
    await sb().server('k-0').sql("STOP REPLICA 'left'");
    const ui = await startServing(['ui', '-f', file, '--status-out', statusFile, '--port', '0']);
    try {
      await page.goto(ui.url);
      const stopped = page.locator('[data-channel="k-0/left"][data-state="Stopped"]');
      await stopped.waitFor({ timeout: 10_000 });
      // Two observation rounds later it is still stopped: nothing repaired it.
      await new Promise((r) => setTimeout(r, 2500));
      expect(await stopped.count()).toBe(1);
      const row = (await sb().server('k-0').sql("SHOW REPLICA 'left' STATUS"))[0]!;
      expect([row.Slave_IO_Running, row.Slave_SQL_Running]).toEqual(['No', 'No']);
      expect(statSync(statusFile).mtimeMs).toBe(before);
      // The journal comes from the status file.
      expect(await page.locator('li.failover[data-phase="Done"]').count()).toBe(1);
      const api = (await (await fetch(new URL('api/topologies', ui.url))).json()) as {
        name: string;
        status: TopologyStatus;
      }[];
      expect(api.map((t) => t.name)).toEqual(['diamond']);
      expect(api[0]!.status.channels.find((c) => c.replica === 'k-0' && c.name === 'left')?.state).toBe(
        'Stopped',
      );
      expect((await fetch(ui.url, { method: 'POST' })).status).toBe(405);
    } finally {
      await ui.stop();
    }
  }, 60_000);
});
