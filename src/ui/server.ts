// The web view's HTTP server (node:http, no dependency). Read-only by construction: GET and HEAD only,
// nothing it serves can change anything, and it only knows what the feed's statuses say (which carry no
// credential). Routes:
//   /                 the page, with every topology already drawn
//   /app.js, /app.css its script and style sheet
//   /api/topologies   JSON: [{ namespace, name, status }]
//   /events           server-sent events: `snapshot` {keys} on connect, then `topology` {key, version,
//                     html} for each topology whose drawing changed, `removed` {key} when one is gone
// Bound to loopback (the default), it answers only requests whose Host is a loopback name, so a web page
// elsewhere cannot read it through DNS rebinding.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { refKey } from '../store/store.js';
import type { UiChange, UiFeed } from './feed.js';
import { APP_CSS, APP_JS, pageHtml } from './page.js';
import { renderTopology } from './render.js';

export interface UiServerOptions {
  feed: UiFeed;
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** One line under the title: where the statuses come from. */
  note?: string;
  /** Interval of SSE keep-alive comments (default 15 s). */
  keepAliveMs?: number;
}

export interface UiServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const isLoopbackHost = (host: string) =>
  host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);

/** The host part of a Host header: `[::1]:8090` → `::1`, `localhost:8090` → `localhost`. */
export function hostOf(header: string | undefined): string {
  const h = (header ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  return h.split(':')[0] ?? '';
}

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const loopbackOnly = isLoopbackHost(host);
  const rendered = new Map<string, { html: string; version: string }>();
  const clients = new Set<ServerResponse>();

  const send = (res: ServerResponse, event: string, data: unknown) =>
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const render = (change: UiChange) => {
    const key = refKey(change.ref);
    if (!change.status) {
      if (rendered.delete(key)) for (const c of clients) send(c, 'removed', { key });
      return;
    }
    const next = renderTopology(change.ref, change.status);
    if (rendered.get(key)?.version === next.version) return;
    rendered.set(key, next);
    for (const c of clients) send(c, 'topology', { key, ...next });
  };
  for (const e of options.feed.snapshot()) render(e);
  const unsubscribe = options.feed.subscribe(render);
  const sorted = () => [...rendered.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    '/': (_req, res) =>
      reply(
        res,
        'text/html; charset=utf-8',
        pageHtml({
          title: 'Tributary topologies',
          note: options.note ?? 'read-only view',
          sections: sorted().map(([, r]) => r.html),
        }),
      ),
    '/app.js': (_req, res) => reply(res, 'text/javascript; charset=utf-8', APP_JS),
    '/app.css': (_req, res) => reply(res, 'text/css; charset=utf-8', APP_CSS),
    '/api/topologies': (_req, res) =>
      reply(
        res,
        'application/json',
        JSON.stringify(
          options.feed
            .snapshot()
            .map((e) => ({ namespace: e.ref.namespace, name: e.ref.name, status: e.status })),
        ),
      ),
    '/events': (req, res) => {
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'text/event-stream',
        connection: 'keep-alive',
      });
      if (req.method === 'HEAD') return void res.end();
      res.write('retry: 1000\n\n');
      const all = sorted();
      send(res, 'snapshot', { keys: all.map(([k]) => k) });
      for (const [key, r] of all) send(res, 'topology', { key, ...r });
      clients.add(res);
      const drop = () => clients.delete(res);
      req.once('close', drop);
      res.once('close', drop);
    },
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = routes[path];
    if (loopbackOnly && !isLoopbackHost(hostOf(req.headers.host)))
      return void text(res, 403, 'this view answers loopback names only (localhost, 127.0.0.1)\n');
    if (!route) return void text(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return void text(res, 405, 'read-only: GET and HEAD only\n');
    }
    route(req, res);
  });
  const keepAlive = setInterval(() => {
    for (const c of clients) c.write(': keep-alive\n\n');
  }, options.keepAliveMs ?? 15_000);
  keepAlive.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(keepAlive);
        unsubscribe();
        for (const c of clients) c.end();
        clients.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(res: ServerResponse, contentType: string, body: string): void {
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function text(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end(body);
}
