// The connections of one server address, shared by every login to it: at most `limit` open at once,
// whoever holds them. A request beyond the limit waits its turn (first come, first served), never fails:
// it gets an idle connection of its own login, a free slot, or the slot of another login's idle connection,
// which is closed to make room. A slot is free only once its connection is closed on this side, so the
// server never sees more than the limit from this process.

/** The most connections to one server by default: a probe's few queries at once, never many. */
export const DEFAULT_MAX_CONNECTIONS_PER_SERVER = 2;
export const MAX_CONNECTIONS_PER_SERVER = 16;

/** A connection as the pool tracks it: the owner that opened it, busy or idle, and how to close it. */
interface Held {
  owner: object;
  state: 'busy' | 'idle' | 'closing';
  end: () => Promise<void>;
  timer?: NodeJS.Timeout;
}

interface Waiter<C> {
  owner: object;
  resolve: (conn: C | undefined) => void;
  reject: (e: Error) => void;
}

export interface ServerConnectionsOptions {
  /**
   * Idle connections close after this long; default never: a warm connection is how a killed server is
   * seen at once (its 'error'), and the limit bounds how many there are.
   */
  idleMs?: number;
}

export class ServerConnections<C extends object> {
  /** Slots handed out whose connection is being opened. */
  private reserved = 0;
  private readonly held = new Map<C, Held>();
  private readonly queue: Waiter<C>[] = [];
  /** Closes in flight to make room for the queue's head: no second one is started meanwhile. */
  private evicting = 0;
  private readonly idleMs: number | undefined;

  constructor(
    readonly limit: number,
    opts: ServerConnectionsOptions = {},
  ) {
    this.idleMs = opts.idleMs;
  }

  /** Connections open (or being opened, or closing) to this server. */
  get open(): number {
    return this.reserved + this.held.size;
  }

  /** Requests waiting for a connection. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * An idle connection of `owner`, or undefined: a slot reserved for `owner` to open one, after which it
   * calls `opened` (or `openFailed`).
   */
  acquire(owner: object): Promise<C | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ owner, resolve, reject });
      this.pump();
    });
  }

  /** The connection opened on a reserved slot, busy now; `end` closes it (graceful, bounded). */
  opened(owner: object, conn: C, end: () => Promise<void>): void {
    this.reserved--;
    this.held.set(conn, { owner, state: 'busy', end });
  }

  /** Opening on a reserved slot failed: the slot is free. */
  openFailed(): void {
    this.reserved--;
    this.pump();
  }

  /** A busy connection is free again: idle for its owner, or for whoever waits first. */
  release(conn: C): void {
    const h = this.held.get(conn);
    if (!h || h.state !== 'busy') return;
    h.state = 'idle';
    if (this.idleMs !== undefined) {
      h.timer = setTimeout(() => void this.close(conn), this.idleMs);
      h.timer.unref();
    }
    this.pump();
  }

  /** Closes a connection (`how`: instead of its graceful end, e.g. a destroy); its slot frees once closed. */
  close(conn: C, how?: () => Promise<void>): Promise<void> {
    const h = this.held.get(conn);
    if (!h || h.state === 'closing') return Promise.resolve();
    clearTimeout(h.timer);
    h.state = 'closing';
    return (how ?? h.end)()
      .catch(() => undefined)
      .finally(() => this.gone(conn));
  }

  /** The connection is closed already (it broke, or the server ended it): its slot is free. */
  gone(conn: C): void {
    const h = this.held.get(conn);
    if (!h) return;
    clearTimeout(h.timer);
    this.held.delete(conn);
    this.pump();
  }

  /**
   * The owner is done: its waiters fail with `reason`, its idle connections close now and its busy ones
   * when released (the caller closes those). Resolves once the idle ones are closed.
   */
  async closeOwner(owner: object, reason: Error): Promise<void> {
    for (const w of this.queue.filter((x) => x.owner === owner)) {
      this.queue.splice(this.queue.indexOf(w), 1);
      w.reject(reason);
    }
    const idle = [...this.held].filter(([, h]) => h.owner === owner && h.state === 'idle');
    await Promise.all(idle.map(([c]) => this.close(c)));
    this.pump();
  }

  /** Connections of `owner` open now (busy, idle or closing). */
  heldBy(owner: object): number {
    let n = 0;
    for (const h of this.held.values()) if (h.owner === owner) n++;
    return n;
  }

  /** Serves the queue from its head: strict order, so no login starves another. */
  private pump(): void {
    while (this.queue.length > 0) {
      const w = this.queue[0]!;
      const own = this.idleOf(w.owner);
      if (own) {
        const h = this.held.get(own)!;
        clearTimeout(h.timer);
        h.state = 'busy';
        this.queue.shift();
        w.resolve(own);
        continue;
      }
      if (this.open < this.limit) {
        this.reserved++;
        this.queue.shift();
        w.resolve(undefined);
        continue;
      }
      // Full: the oldest idle connection of another login makes room (one close at a time).
      if (this.evicting === 0) {
        const other = this.oldestIdle();
        if (other) {
          this.evicting++;
          void this.close(other).finally(() => {
            this.evicting--;
            this.pump();
          });
        }
      }
      return;
    }
  }

  private idleOf(owner: object): C | undefined {
    for (const [c, h] of this.held) if (h.owner === owner && h.state === 'idle') return c;
    return undefined;
  }

  /** Map order is insertion order: the first idle entry is the one opened longest ago. */
  private oldestIdle(): C | undefined {
    for (const [c, h] of this.held) if (h.state === 'idle') return c;
    return undefined;
  }
}
