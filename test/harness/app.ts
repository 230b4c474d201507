// An application for fault tests: it writes numbered rows wherever it can (the first member of a group
// that accepts the write, through an account that read-only stops), remembers every acknowledged id and
// who acknowledged it; and a sampler that checks, every few milliseconds, that at most one member of a
// group is writable. Both bounded in count and time, both on 127.0.0.1 only.
import type { Connection } from 'mysql2/promise';
import type { SandboxServer } from '../../src/sandbox/index.js';

export const APP_USER = 'app';
export const APP_PASSWORD = 'apppass';

/** The account and the table, created on a primary (they replicate). */
export async function prepareApp(primary: SandboxServer, table = 'shop.orders'): Promise<void> {
  const [db] = table.split('.');
  await primary.sql(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await primary.sql(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, v VARCHAR(40))`);
  await primary.sql(`CREATE USER IF NOT EXISTS '${APP_USER}'@'%' IDENTIFIED BY '${APP_PASSWORD}'`);
  await primary.sql(`GRANT SELECT, INSERT ON ${db}.* TO '${APP_USER}'@'%'`);
}

export interface Ack {
  id: number;
  member: string;
  at: number;
}

export interface App {
  readonly acked: Ack[];
  /** Writes refused or failed, by member (read-only refusals included). */
  readonly refused: Map<string, number>;
  /** Settles when the writes end by themselves (max rows or maxMs). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Writes rows `firstId`, `firstId + 1`, … to the first of `members` that accepts each, pausing `pauseMs`
 * between writes, until stopped or `max` rows were acknowledged (and at most `maxMs`).
 */
export function startApp(
  members: SandboxServer[],
  opts: { table?: string; firstId?: number; pauseMs?: number; max?: number; maxMs?: number } = {},
): App {
  const table = opts.table ?? 'shop.orders';
  const acked: Ack[] = [];
  const refused = new Map<string, number>();
  const conns = new Map<string, Connection>();
  let stopped = false;
  const until = Date.now() + (opts.maxMs ?? 120_000);
  const connection = async (m: SandboxServer): Promise<Connection> => {
    const c = conns.get(m.name) ?? (await m.connect(APP_USER, APP_PASSWORD, { connectTimeout: 500 }));
    conns.set(m.name, c);
    return c;
  };
  const done = (async () => {
    let id = opts.firstId ?? 1;
    while (!stopped && acked.length < (opts.max ?? 100_000) && Date.now() < until) {
      for (const m of members) {
        try {
          const c = await connection(m);
          await c.query(`INSERT INTO ${table} (id, v) VALUES (?, ?)`, [id, `row-${id}`]);
          acked.push({ id, member: m.name, at: Date.now() });
          id++;
          break;
        } catch {
          refused.set(m.name, (refused.get(m.name) ?? 0) + 1);
          const c = conns.get(m.name);
          conns.delete(m.name);
          c?.destroy();
        }
      }
      await new Promise((r) => setTimeout(r, opts.pauseMs ?? 5));
    }
  })();
  const closed = done.then(() => {
    for (const c of conns.values()) c.destroy();
  });
  return {
    acked,
    refused,
    done: closed,
    async stop() {
      stopped = true;
      await closed;
    },
  };
}

/** Acknowledged ids a server lacks (empty when it has them all). */
export async function missingOn(
  server: SandboxServer,
  acked: readonly Ack[],
  table = 'shop.orders',
): Promise<number[]> {
  const rows = await server.sql(`SELECT id FROM ${table}`);
  const have = new Set(rows.map((r) => Number(r.id)));
  return acked.map((a) => a.id).filter((id) => !have.has(id));
}

/** Waits (bounded) until a server holds every acknowledged id; returns what it still lacks. */
export async function waitForAcked(
  server: SandboxServer,
  acked: readonly Ack[],
  ms = 20_000,
  table = 'shop.orders',
): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const missing = await missingOn(server, acked, table).catch(() => acked.map((a) => a.id));
    if (missing.length === 0 || Date.now() > deadline) return missing;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Sampler {
  /** Moments when two or more members of one group accepted writes, with their names. */
  readonly violations: { at: number; writable: string[] }[];
  readonly samples: number;
  stop(): Promise<void>;
}

/**
 * Samples read_only (and super_read_only on MySQL) of every reachable member of each group every
 * `everyMs` ms, over one admin connection per member; records every sample with two writable members.
 */
export function sampleWritable(groups: SandboxServer[][], everyMs = 20, maxMs = 300_000): Sampler {
  const violations: { at: number; writable: string[] }[] = [];
  const conns = new Map<string, Connection>();
  let stopped = false;
  let samples = 0;
  const until = Date.now() + maxMs;
  const writable = async (m: SandboxServer): Promise<boolean> => {
    try {
      const c = conns.get(m.name) ?? (await m.admin({ connectTimeout: 300 }));
      conns.set(m.name, c);
      const [rows] = await c.query<import('mysql2').RowDataPacket[]>('SELECT @@GLOBAL.read_only AS ro');
      return Number(rows[0]?.ro) === 0;
    } catch {
      conns.get(m.name)?.destroy();
      conns.delete(m.name);
      return false; // unreachable: accepts nothing
    }
  };
  const done = (async () => {
    while (!stopped && Date.now() < until) {
      for (const g of groups) {
        const open = (
          await Promise.all(g.map(async (m) => ((await writable(m)) ? m.name : undefined)))
        ).filter((n): n is string => n !== undefined);
        if (open.length > 1) violations.push({ at: Date.now(), writable: open });
      }
      samples++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    violations,
    get samples() {
      return samples;
    },
    async stop() {
      stopped = true;
      await done;
      for (const c of conns.values()) c.destroy();
    },
  };
}
