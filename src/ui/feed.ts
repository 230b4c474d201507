// Where the web view gets its statuses from: a board of the latest TopologyStatus per topology, and the
// adapters that fill it (controller pass outcomes; periodic read-only observation in `tributary ui`).
import type { TopologyStatus } from '../api/status.js';
import type { PassOutcome } from '../controller/loop.js';
import { refKey, type TopologyRef } from '../store/store.js';

export interface UiEntry {
  ref: TopologyRef;
  status: TopologyStatus;
}

/** A change of one topology: its new status, or `status` undefined when it is gone. */
export interface UiChange {
  ref: TopologyRef;
  status?: TopologyStatus;
}

/** What the server needs: the current statuses, and the changes from now on. */
export interface UiFeed {
  snapshot(): UiEntry[];
  subscribe(listener: (change: UiChange) => void): () => void;
}

/** The latest status of every topology, in a stable order (namespace, then name). */
export class StatusBoard implements UiFeed {
  private readonly entries = new Map<string, UiEntry>();
  private readonly listeners = new Set<(change: UiChange) => void>();

  snapshot(): UiEntry[] {
    return [...this.entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  }

  subscribe(listener: (change: UiChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(ref: TopologyRef, status: TopologyStatus): void {
    const copy = { namespace: ref.namespace, name: ref.name };
    this.entries.set(refKey(copy), { ref: copy, status });
    this.emit({ ref: copy, status });
  }

  delete(ref: TopologyRef): void {
    if (this.entries.delete(refKey(ref))) this.emit({ ref: { namespace: ref.namespace, name: ref.name } });
  }

  private emit(change: UiChange): void {
    for (const l of this.listeners) l(change);
  }
}

/**
 * Feeds a board from the controller loop (pass it as, or call it from, runController's onPass). A failed
 * pass keeps the last status shown; a topology that is gone or being deleted leaves the board.
 */
export function boardFromPasses(board: StatusBoard): (outcome: PassOutcome) => void {
  return (outcome) => {
    if (outcome.result) board.set(outcome.ref, outcome.result.status);
    else if (outcome.skipped || outcome.error === undefined) board.delete(outcome.ref);
  };
}
