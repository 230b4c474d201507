// HTTP endpoints of the operator: /healthz and /readyz on the health port, /metrics on the metrics port.
//
// - /healthz: the process serves requests and its loop is alive (isLive);
// - /readyz: the first list of the watch has arrived. With leader election a standby is ready too (ready
//   means "can take over", not "is leading"), so a rolling update never waits on leadership.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

async function listen(
  port: number,
  host: string | undefined,
  routes: Record<string, Handler>,
): Promise<RunningServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const handler = routes[path];
    if (!handler || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res
        .writeHead(handler ? 405 : 404, { 'content-type': 'text/plain' })
        .end(handler ? 'method not allowed\n' : 'not found\n');
      return;
    }
    Promise.resolve(handler(req, res)).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

const text = (res: ServerResponse, code: number, body: string) => {
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
};

export interface HealthServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
  isReady: () => boolean;
  isLive?: () => boolean;
  /** A one-line reason shown by /readyz when not ready. */
  notReadyReason?: () => string;
}

export function startHealthServer(options: HealthServerOptions): Promise<RunningServer> {
  return listen(options.port, options.host, {
    '/healthz': (_req, res) =>
      (options.isLive?.() ?? true) ? text(res, 200, 'ok\n') : text(res, 500, 'not live\n'),
    '/livez': (_req, res) =>
      (options.isLive?.() ?? true) ? text(res, 200, 'ok\n') : text(res, 500, 'not live\n'),
    '/readyz': (_req, res) =>
      options.isReady()
        ? text(res, 200, 'ok\n')
        : text(res, 503, `not ready: ${options.notReadyReason?.() ?? 'starting'}\n`),
  });
}

export interface MetricsServerOptions {
  port: number;
  host?: string;
  render: () => Promise<{ contentType: string; body: string }>;
}

export function startMetricsServer(options: MetricsServerOptions): Promise<RunningServer> {
  return listen(options.port, options.host, {
    '/metrics': async (_req, res) => {
      const { contentType, body } = await options.render();
      res.writeHead(200, { 'content-type': contentType }).end(body);
    },
    '/healthz': (_req, res) => text(res, 200, 'ok\n'),
  });
}
