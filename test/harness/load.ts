// A bounded write load on one server: inserts numbered rows until stopped, an error, or `max` rows.
import type { SandboxServer } from '../../src/sandbox/index.js';

export interface Load {
  /** Ids whose INSERT the server acknowledged. */
  acked: number[];
  stop(): Promise<void>;
  done: Promise<void>;
  /** Resolves once `n` rows are acknowledged (or the load ended): a fault then lands under load, however slow the machine. */
  acknowledged(n: number): Promise<void>;
}

export function startLoad(
  server: SandboxServer,
  table: string,
  opts: { max?: number; firstId?: number; pauseMs?: number } = {},
): Load {
  const acked: number[] = [];
  let stopped = false;
  const done = (async () => {
    let id = opts.firstId ?? 1;
    const max = opts.max ?? 5000;
    while (!stopped && acked.length < max) {
      try {
        await server.sql(`INSERT INTO ${table} (id, v) VALUES (?, ?)`, [id, `row-${id}`]);
        acked.push(id);
      } catch {
        return; // the server died or turned read-only: the load ends by itself
      }
      id++;
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  })();
  let ended = false;
  void done.then(() => (ended = true));
  return {
    acked,
    done,
    async acknowledged(n: number) {
      while (acked.length < n && !ended) await new Promise((r) => setTimeout(r, 5));
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

export async function ids(server: SandboxServer, table: string): Promise<number[]> {
  const rows = await server.sql(`SELECT id FROM ${table} ORDER BY id`);
  return rows.map((r) => Number(r.id));
}
