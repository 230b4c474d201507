// How the in-process core talks to the real API code behind it (kube-backend.ts): plain JSON requests for
// the test helpers, a streaming pass-through for clients' requests (as kube-apiserver's aggregator passes
// requests to its delegates), and a mirror of the backend's objects kept by list+watch so that tests can
// read custom resources synchronously. The mirror is also fed by every successful write that passes
// through, so a test reads what it (or the operator) just wrote without waiting for the watch.
import { request, Agent } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeBackend } from './kube-backend.js';

export type Json = Record<string, unknown>;
export interface Mirrored {
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export class BackendLink {
  private readonly agent = new Agent({ rejectUnauthorized: false, keepAlive: true });
  /** By collection path (`/apis/g/v/plural`), then `namespace/name`. */
  private readonly objects = new Map<string, Map<string, Mirrored>>();
  private readonly streams = new Set<IncomingMessage>();
  private stopped = false;

  constructor(readonly backend: KubeBackend) {}

  /** One JSON request to the backend as a cluster administrator. */
  async call(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    accept = 'application/json',
  ): Promise<{ status: number; body: Json }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        this.backend.url + path,
        {
          method,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.backend.token}`,
            accept,
            ...(text === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': Buffer.byteLength(text) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            let parsed: Json = {};
            try {
              parsed = raw ? (JSON.parse(raw) as Json) : {};
            } catch {
              parsed = { message: raw };
            }
            const status = res.statusCode ?? 0;
            if (status < 300) this.observe(path, method, parsed);
            resolve({ status, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  }

  /** Like call(), but a status of 300 or more is an Error with the server's message. */
  async must(method: string, path: string, body?: unknown, contentType?: string): Promise<Json> {
    const r = await this.call(method, path, body, contentType);
    if (r.status >= 300)
      throw new Error(`${method} ${path}: HTTP ${r.status}: ${String(r.body['message'] ?? '')}`);
    return r.body;
  }

  /**
   * Passes a client's request through to the backend and its answer back, streaming (watches included).
   * Calls onStream with a closer for a watch, so the core can count and cut it.
   */
  pass(
    req: IncomingMessage,
    res: ServerResponse,
    raw: Buffer,
    path: string,
    onStream?: (close: () => void, done: Promise<void>) => void,
  ): Promise<number> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v !== 'string' || ['host', 'authorization', 'connection', 'content-length'].includes(k))
        continue;
      headers[k] = v;
    }
    headers['authorization'] = `Bearer ${this.backend.token}`;
    if (raw.length) headers['content-length'] = String(raw.length);
    const method = req.method ?? 'GET';
    return new Promise((resolve) => {
      const up = request(this.backend.url + path, { method, agent: this.agent, headers }, (back) => {
        const status = back.statusCode ?? 502;
        res.writeHead(status, back.headers);
        const isWatch = /[?&]watch=(true|1)\b/.test(path);
        if (isWatch && status === 200) {
          res.flushHeaders();
          this.streams.add(back);
          const done = new Promise<void>((end) => {
            const finish = () => {
              this.streams.delete(back);
              end();
            };
            back.on('close', finish);
            res.on('close', () => {
              back.destroy();
              finish();
            });
          });
          onStream?.(() => {
            back.destroy();
            if (!res.writableEnded) res.end();
          }, done);
          back.pipe(res);
          resolve(status);
          return;
        }
        const chunks: Buffer[] = [];
        back.on('data', (c: Buffer) => {
          chunks.push(c);
          res.write(c);
        });
        back.on('end', () => {
          res.end();
          if (status < 300) {
            try {
              this.observe(path.split('?')[0]!, method, JSON.parse(Buffer.concat(chunks).toString('utf8')));
            } catch {
              /* not JSON (OpenAPI protobuf, …): nothing to mirror */
            }
          }
          resolve(status);
        });
        back.on('error', () => resolve(status));
      });
      up.on('error', (e) => {
        if (!res.headersSent) {
          const text = JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            code: 503,
            reason: 'ServiceUnavailable',
            message: `the apiextensions-apiserver did not answer: ${e.message}`,
          });
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(text);
        } else res.destroy();
        resolve(503);
      });
      up.end(raw.length ? raw : undefined);
    });
  }

  // ---- the mirror -----------------------------------------------------------------------------------

  /** Keeps a mirror of one collection (`/apis/g/v/plural`, all namespaces) by list+watch until stop(). */
  async follow(collection: string): Promise<void> {
    if (this.objects.has(collection)) return;
    this.objects.set(collection, new Map());
    let rv = '';
    const relist = async () => {
      const list = await this.call('GET', collection);
      if (list.status !== 200) return false;
      const store = this.objects.get(collection)!;
      store.clear();
      for (const o of (list.body['items'] as Mirrored[] | undefined) ?? []) store.set(keyOf(o), o);
      rv = String((list.body['metadata'] as Json | undefined)?.['resourceVersion'] ?? '');
      return true;
    };
    // A collection may not be served yet (a CRD just created): the mirror starts when it is.
    const loop = async () => {
      while (!this.stopped) {
        if (!rv && !(await relist().catch(() => false))) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        const gone = await this.watch(collection, rv, (next) => (rv = next)).catch(() => false);
        if (gone) rv = '';
        if (!this.stopped) await new Promise((r) => setTimeout(r, 50));
      }
    };
    await relist().catch(() => false);
    void loop();
  }

  /** One watch stream; resolves true when the server said the resourceVersion is gone (relist). */
  private watch(collection: string, rv: string, seen: (rv: string) => void): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const q = `?watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}`;
      const req = request(
        this.backend.url + collection + q,
        { agent: this.agent, headers: { authorization: `Bearer ${this.backend.token}` } },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            resolve(res.statusCode === 410);
            return;
          }
          this.streams.add(res);
          let buffer = '';
          let gone = false;
          res.on('data', (c: Buffer) => {
            buffer += c.toString('utf8');
            let nl: number;
            while ((nl = buffer.indexOf('\n')) >= 0) {
              const line = buffer.slice(0, nl);
              buffer = buffer.slice(nl + 1);
              if (!line.trim()) continue;
              const ev = JSON.parse(line) as { type: string; object: Mirrored };
              if (ev.type === 'ERROR') {
                gone = true;
                continue;
              }
              if (ev.object.metadata.resourceVersion) seen(ev.object.metadata.resourceVersion);
              if (ev.type === 'BOOKMARK') continue;
              const store = this.objects.get(collection)!;
              if (ev.type === 'DELETED') store.delete(keyOf(ev.object));
              else this.put(store, ev.object);
            }
          });
          res.on('close', () => {
            this.streams.delete(res);
            resolve(gone);
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** Mirrored objects of a collection (`/apis/g/v/plural`). */
  mirrored(collection: string): Mirrored[] {
    return [...(this.objects.get(collection)?.values() ?? [])].map((o) => structuredClone(o));
  }

  /** A successful write's answer updates the mirror at once (a delete that finished removes it). */
  private observe(path: string, method: string, body: Json): void {
    const collection = collectionOf(path);
    const store = collection ? this.objects.get(collection) : undefined;
    if (!store || !isObject(body.metadata) || method === 'GET') return;
    const o = body as Mirrored;
    if (method === 'DELETE') {
      // Gone at once, unless finalizers keep it (then the answer is the object, marked for deletion).
      const finalizers = (o.metadata['finalizers'] as unknown[] | undefined) ?? [];
      if (body['kind'] !== 'Status' && finalizers.length > 0) this.put(store, o);
      else {
        const name = path.split('?')[0]!.split('/').pop()!;
        const ns = /\/namespaces\/([^/]+)\//.exec(path)?.[1] ?? '';
        store.delete(`${decodeURIComponent(ns)}/${decodeURIComponent(name)}`);
      }
      return;
    }
    if (o.metadata.name) this.put(store, o);
  }

  /**
   * Newer resourceVersions win: the watch may bring an event after the write's own answer. An answer that
   * removed the last finalizer of an object marked for deletion says it is gone (its DELETED event may
   * already have come).
   */
  private put(store: Map<string, Mirrored>, o: Mirrored): void {
    const finalizers = (o.metadata['finalizers'] as unknown[] | undefined) ?? [];
    if (o.metadata['deletionTimestamp'] && finalizers.length === 0) {
      store.delete(keyOf(o));
      return;
    }
    const old = store.get(keyOf(o));
    if (old && Number(old.metadata.resourceVersion) > Number(o.metadata.resourceVersion)) return;
    store.set(keyOf(o), o);
  }

  /** Ends every stream passed through (clients see their watches end, as on a server restart). */
  cutStreams(): void {
    for (const s of [...this.streams]) s.destroy();
  }

  stop(): void {
    this.stopped = true;
    this.cutStreams();
    this.agent.destroy();
  }
}

const keyOf = (o: Mirrored) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** `/apis/g/v/plural` of an object or collection path (namespaced or not), or undefined. */
export function collectionOf(path: string): string | undefined {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  if (parts[0] !== 'apis' || parts.length < 4) return undefined;
  let rest = parts.slice(3);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  return `/apis/${parts[1]}/${parts[2]}/${rest[0]}`;
}
