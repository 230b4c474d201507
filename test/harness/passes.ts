// Drives reconciliation passes in-process, as the controller loop would, until a condition holds.
import type { TopologyStatus } from '../../src/api/status.js';
import { applyPassResult, type PassResult, type Reconciler } from '../../src/controller/pass.js';
import type { LocalStore } from '../../src/store/local.js';
import type { TopologyRef } from '../../src/store/store.js';

export interface Driver {
  pass(options?: Parameters<Reconciler>[2]): Promise<PassResult>;
  until(pred: (s: TopologyStatus) => boolean, timeoutMs?: number): Promise<TopologyStatus>;
  passes: number;
}

export function driver(
  store: LocalStore,
  ref: TopologyRef,
  reconcile: Reconciler,
  onPass?: (r: PassResult) => void,
): Driver {
  const d: Driver = {
    passes: 0,
    async pass(options) {
      const r = (await reconcile(store, ref, options))!;
      d.passes++;
      await applyPassResult(store, ref, r);
      onPass?.(r);
      return r;
    },
    async until(pred, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await d.pass();
        if (pred(r.status)) return r.status;
        if (Date.now() > deadline)
          throw new Error(
            `condition not reached in ${timeoutMs} ms; phase ${r.status.phase}; ${JSON.stringify(r.status.conditions.map((c) => c.message))}`,
          );
        await new Promise((res) => setTimeout(res, Math.min(r.requeueAfterMs, 500)));
      }
    },
  };
  return d;
}
