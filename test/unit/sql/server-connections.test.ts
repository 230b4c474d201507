// The per-server connection limit as bookkeeping (no sockets): logins share `limit` slots, wait their turn
// beyond it, and take the room of another login's idle connection. Real connections: pool-limits.test.ts.
import { describe, expect, it } from 'vitest';
import { ServerConnections } from '../../../src/sql/server-connections.js';

/** A stand-in connection: what the bookkeeping tracks is its identity and whether it was closed. */
class Conn {
  closed = false;
  constructor(readonly owner: string) {}
}

/** Opens on a granted slot, as SqlClient does. */
async function take(s: ServerConnections<Conn>, owner: object, name: string): Promise<Conn> {
  const idle = await s.acquire(owner);
  if (idle) return idle;
  const c = new Conn(name);
  s.opened(owner, c, async () => {
    c.closed = true;
  });
  return c;
}

const settle = () => new Promise((r) => setImmediate(r));

describe('ServerConnections', () => {
  it('never more than the limit open: a third request waits until one is released, then reuses it', async () => {
    const s = new ServerConnections<Conn>(2);
    const a = {};
    const c1 = await take(s, a, 'a');
    const c2 = await take(s, a, 'a');
    expect(s.open).toBe(2);
    let third: Conn | undefined;
    const p = take(s, a, 'a').then((c) => (third = c));
    await settle();
    expect(third).toBeUndefined();
    expect(s.waiting).toBe(1);
    s.release(c1);
    await p;
    expect(third).toBe(c1);
    expect(s.open).toBe(2);
    s.release(c2);
    s.release(c1);
    expect(s.open).toBe(2);
  });

  it('another login takes the room of an idle connection: it is closed before the new one opens', async () => {
    const s = new ServerConnections<Conn>(2);
    const admin = {};
    const repl = {};
    const [c1, c2] = [await take(s, admin, 'admin'), await take(s, admin, 'admin')];
    s.release(c1);
    const r = await take(s, repl, 'repl');
    expect(c1.closed).toBe(true);
    expect(c2.closed).toBe(false);
    expect(r.owner).toBe('repl');
    expect(s.open).toBe(2);
    expect([s.heldBy(admin), s.heldBy(repl)]).toEqual([1, 1]);
  });

  it('first come, first served: a waiting login is not overtaken by later requests of the holder', async () => {
    const s = new ServerConnections<Conn>(1);
    const admin = {};
    const repl = {};
    const c1 = await take(s, admin, 'admin');
    const order: string[] = [];
    const pr = take(s, repl, 'repl').then((c) => (order.push('repl'), c));
    const pa = take(s, admin, 'admin').then((c) => (order.push('admin'), c));
    await settle();
    expect(order).toEqual([]);
    s.release(c1);
    const r = await pr;
    expect(c1.closed).toBe(true);
    s.release(r);
    const a2 = await pa;
    expect(order).toEqual(['repl', 'admin']);
    expect(r.closed).toBe(true);
    expect(a2).not.toBe(c1);
    expect(s.open).toBe(1);
  });

  it('a failed open, a broken connection and a closed one each free their slot', async () => {
    const s = new ServerConnections<Conn>(1);
    const a = {};
    expect(await s.acquire(a)).toBeUndefined();
    let next: Conn | undefined;
    const p = s.acquire(a).then((c) => (next = c ?? new Conn('slot')));
    await settle();
    expect(next).toBeUndefined();
    s.openFailed();
    await p;
    expect(next?.owner).toBe('slot');
    s.opened(a, next!, async () => undefined);
    const q = take(s, a, 'a');
    s.gone(next!);
    const c = await q;
    expect(s.open).toBe(1);
    const r = take(s, a, 'a');
    await s.close(c);
    expect(c.closed).toBe(true);
    expect((await r).closed).toBe(false);
    expect(s.open).toBe(1);
  });

  it("closing an owner fails its waiters and closes its idle connections, not another's", async () => {
    const s = new ServerConnections<Conn>(2);
    const a = {};
    const b = {};
    const ca = await take(s, a, 'a');
    const cb = await take(s, b, 'b');
    s.release(ca);
    const waiting = take(s, b, 'b');
    await settle();
    // b's second request took a's idle room: a holds nothing now.
    const cb2 = await waiting;
    expect(ca.closed).toBe(true);
    const queued = s.acquire(a);
    await settle();
    await s.closeOwner(a, new Error('client is closed'));
    await expect(queued).rejects.toThrow('client is closed');
    expect([cb.closed, cb2.closed]).toEqual([false, false]);
    s.release(cb);
    await s.closeOwner(b, new Error('closed'));
    expect(cb.closed).toBe(true);
    expect(s.open).toBe(1);
  });

  it('idle connections close after the idle time', async () => {
    const s = new ServerConnections<Conn>(2, { idleMs: 20 });
    const c = await take(s, {}, 'a');
    s.release(c);
    for (let i = 0; i < 100 && !c.closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(c.closed).toBe(true);
    await settle();
    expect(s.open).toBe(0);
  });
});
