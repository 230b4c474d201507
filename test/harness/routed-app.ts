// An application that knows only a routed address (HAProxy's writer or reader port of a group), for the
// routing tests: it never learns which server is the primary. The writer inserts numbered rows, a new id
// for every attempt (so an id names one INSERT and the moment it was started), reconnecting after any
// error as a client library should on a dropped connection; each connection asks once which server it
// reached (@@port), which holds for its life: HAProxy cuts a slot's sessions whenever it moves. The reader
// opens a connection per read and notes where it landed. Both bounded in time, on 127.0.0.1 only.
import { createConnection, type Connection } from 'mysql2/promise';
import { APP_PASSWORD, APP_USER } from './app.js';

/** One INSERT: when it was started and, once acknowledged, when and by which server (its port). */
export interface Attempt {
  id: number;
  startedAt: number;
  ackedAt?: number;
  /** @@port of the server that acknowledged it. */
  port?: number;
}

export interface RoutedWriter {
  /** Every attempt, in order (ids ascending). */
  readonly attempts: readonly Attempt[];
  /** The acknowledged attempts, in order. */
  acked(): Attempt[];
  /** Resolves once `n` more attempts are acknowledged than when called, or rejects after `ms`. */
  ackedMore(n: number, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A connection through 127.0.0.1:port, and the port of the server behind it. */
async function open(port: number, timeoutMs: number): Promise<{ c: Connection; server: number }> {
  const c = await createConnection({
    host: '127.0.0.1',
    port,
    user: APP_USER,
    password: APP_PASSWORD,
    connectTimeout: timeoutMs,
  });
  c.on('error', () => undefined);
  try {
    const [rows] = await c.query({ sql: 'SELECT @@port AS port', timeout: timeoutMs });
    return { c, server: Number((rows as { port: number }[])[0]!.port) };
  } catch (e) {
    c.destroy();
    throw e;
  }
}

/**
 * Inserts rows `firstId`, `firstId + 1`, … into `table` through 127.0.0.1:`port` until stopped (at most
 * `maxMs`). A statement or connection that takes longer than `timeoutMs` counts as failed (a frozen
 * server answers nothing); the id is not retried, the next attempt takes the next id.
 */
export function startRoutedWriter(
  port: number,
  opts: { table?: string; firstId?: number; pauseMs?: number; timeoutMs?: number; maxMs?: number } = {},
): RoutedWriter {
  const table = opts.table ?? 'shop.orders';
  const timeoutMs = opts.timeoutMs ?? 1000;
  const attempts: Attempt[] = [];
  let ackedCount = 0;
  let stopped = false;
  const until = Date.now() + (opts.maxMs ?? 180_000);
  const done = (async () => {
    let id = opts.firstId ?? 1;
    let conn: { c: Connection; server: number } | undefined;
    while (!stopped && Date.now() < until) {
      const a: Attempt = { id: id++, startedAt: Date.now() };
      attempts.push(a);
      try {
        conn ??= await open(port, timeoutMs);
        await conn.c.query({ sql: `INSERT INTO ${table} (id, v) VALUES (?, ?)`, timeout: timeoutMs }, [
          a.id,
          `row-${a.id}`,
        ]);
        a.ackedAt = Date.now();
        a.port = conn.server;
        ackedCount++;
      } catch {
        conn?.c.destroy();
        conn = undefined;
      }
      await sleep(opts.pauseMs ?? 5);
    }
    conn?.c.destroy();
  })();
  return {
    attempts,
    acked: () => attempts.filter((a) => a.ackedAt !== undefined),
    async ackedMore(n, ms = 30_000) {
      const want = ackedCount + n;
      const deadline = Date.now() + ms;
      while (ackedCount < want) {
        if (stopped || Date.now() > deadline)
          throw new Error(`the writer had ${ackedCount} acknowledgements, waited for ${want}`);
        await sleep(10);
      }
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

export interface RoutedReader {
  /** Every successful read: when, and the port of the server that answered. */
  readonly reads: readonly { at: number; port: number }[];
  /** Ports answering reads since `since` (ms since the epoch). */
  portsSince(since: number): Set<number>;
  stop(): Promise<void>;
}

/** Reads through 127.0.0.1:`port` on a new connection each time (so HAProxy balances every one). */
export function startRoutedReader(
  port: number,
  opts: { pauseMs?: number; timeoutMs?: number; maxMs?: number } = {},
): RoutedReader {
  const reads: { at: number; port: number }[] = [];
  let stopped = false;
  const until = Date.now() + (opts.maxMs ?? 180_000);
  const done = (async () => {
    while (!stopped && Date.now() < until) {
      try {
        const { c, server } = await open(port, opts.timeoutMs ?? 1000);
        c.destroy();
        reads.push({ at: Date.now(), port: server });
      } catch {
        // No reader in the backend (or a slot moving): the next read tries again.
      }
      await sleep(opts.pauseMs ?? 20);
    }
  })();
  return {
    reads,
    portsSince: (since) => new Set(reads.filter((r) => r.at >= since).map((r) => r.port)),
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/**
 * The write pause around [from, to] (ms since the epoch): the largest gap between consecutive
 * acknowledgements where the gap overlaps the interval (the last one before `from` to the first after counts).
 */
export function longestPause(acked: readonly Attempt[], from: number, to: number): number {
  const times = acked.map((a) => a.ackedAt!).sort((a, b) => a - b);
  let max = 0;
  for (let i = 1; i < times.length; i++)
    if (times[i]! >= from && times[i - 1]! <= to) max = Math.max(max, times[i]! - times[i - 1]!);
  return max;
}
