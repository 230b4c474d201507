import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { PassOutcome } from '../../../src/controller/loop.js';
import { boardFromPasses, StatusBoard } from '../../../src/ui/feed.js';
import { hostOf, startUiServer, type UiServer } from '../../../src/ui/server.js';
import { diamond } from './statuses.js';

const ref = { namespace: 'db', name: 'diamond' };
let server: UiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A raw request, so that the Host header can be anything. */
function get(
  port: number,
  path: string,
  opts: { method?: string; host?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.host ? { host: opts.host } : {},
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Reads server-sent events from /events until `count` arrived (bounded by a timeout). */
async function events(
  port: number,
  count: number,
  during?: () => void,
): Promise<{ event: string; data: any }[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 5000);
  const res = await fetch(`http://127.0.0.1:${port}/events`, { signal: ac.signal });
  const reader = res.body!.getReader();
  const out: { event: string; data: any }[] = [];
  let buffer = '';
  let triggered = false;
  try {
    while (out.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += new TextDecoder().decode(value);
      let i: number;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) out.push({ event, data: JSON.parse(data) });
      }
      if (!triggered && out.some((e) => e.event === 'snapshot') && out.length >= 2) {
        triggered = true;
        during?.();
      }
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return out;
}

describe('web view server', () => {
  it('serves the page already drawn, its assets, and the statuses as JSON, with a strict policy', async () => {
    const board = new StatusBoard();
    board.set(ref, diamond());
    server = await startUiServer({ feed: board, port: 0 });
    const page = await get(server.port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('data-member="k-0"');
    expect(page.body).toContain('data-channel="k-0/left" data-from="l-0" data-state="Running"');
    expect((await get(server.port, '/app.js')).body).toContain("new EventSource('events')");
    expect((await get(server.port, '/app.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    const api = await get(server.port, '/api/topologies');
    expect(JSON.parse(api.body)).toEqual([{ namespace: 'db', name: 'diamond', status: diamond() }]);
  });

  it.each([
    ['POST', '/', undefined, 405],
    ['DELETE', '/api/topologies', undefined, 405],
    ['GET', '/nope', undefined, 404],
    ['GET', '/', 'evil.example:8090', 403],
    ['GET', '/api/topologies', 'rebind.attacker.test', 403],
    ['GET', '/', 'localhost:9999', 200],
    ['GET', '/', '[::1]:8090', 200],
    ['HEAD', '/', '127.0.0.1', 200],
  ])('%s %s with Host %s answers %i', async (method, path, host, status) => {
    server = await startUiServer({ feed: new StatusBoard(), port: 0 });
    const r = await get(server.port, path, { method, ...(host ? { host } : {}) });
    expect(r.status).toBe(status);
    if (method === 'HEAD') expect(r.body).toBe('');
  });

  it.each([
    ['localhost:8090', 'localhost'],
    ['[::1]:8090', '::1'],
    ['127.0.0.1', '127.0.0.1'],
    ['Example.COM:80', 'example.com'],
    [undefined, ''],
  ])('the host of %s is %s', (header, want) => {
    expect(hostOf(header)).toBe(want);
  });

  it('streams a snapshot, then each change of a drawing once, and removals', async () => {
    const board = new StatusBoard();
    board.set(ref, diamond());
    server = await startUiServer({ feed: board, port: 0 });
    const seen = await events(server.port, 4, () => {
      board.set(ref, diamond()); // same drawing: nothing is sent
      board.set(
        ref,
        diamond((s) => {
          s.channels[1] = { ...s.channels[1]!, state: 'Connecting', ioRunning: 'Connecting' };
        }),
      );
      board.delete(ref);
    });
    expect(seen.map((e) => e.event)).toEqual(['snapshot', 'topology', 'topology', 'removed']);
    expect(seen[0]!.data).toEqual({ keys: ['db/diamond'] });
    expect(seen[1]!.data.html).toContain('data-channel="l-0/hub" data-from="h-0" data-state="Running"');
    expect(seen[2]!.data.html).toContain('data-channel="l-0/hub" data-from="h-0" data-state="Connecting"');
    expect(seen[2]!.data.version).not.toBe(seen[1]!.data.version);
    expect(seen[3]!.data).toEqual({ key: 'db/diamond' });
  });
});

describe('boardFromPasses', () => {
  const result = {
    status: diamond(),
    statusChanged: false,
    events: [],
    actionsExecuted: 0,
    requeueAfterMs: 1000,
  };
  const base = { ref, durationMs: 1, statusWritten: false, eventsEmitted: 0 };
  it.each<[string, Partial<PassOutcome>, string[]]>([
    ['a pass with a result shows its status', { result }, ['db/diamond']],
    ['a failed pass keeps the last status', { error: new Error('x') }, ['db/diamond']],
    ['a skipped topology (being deleted) leaves', { skipped: true }, []],
    ['a topology that is gone leaves', {}, []],
  ])('%s', (_name, outcome, keys) => {
    const board = new StatusBoard();
    board.set(ref, diamond());
    boardFromPasses(board)({ ...base, ...outcome });
    expect(board.snapshot().map((e) => `${e.ref.namespace}/${e.ref.name}`)).toEqual(keys);
  });
});
