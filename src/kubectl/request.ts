// Asking the operator for something through an annotation, and waiting for the answer in status: the one
// mechanism behind `switchover` and `ack`. The annotation is set only on the version of the object the
// request was decided on; progress is read from status alone; a request the operator never took up is
// withdrawn at the timeout, so it cannot fire later by surprise.
import { sleep, systemClock } from '../util/clock.js';
import type { StoredTopology, TopologyRef } from '../store/store.js';
import { UserError } from '../util/errors.js';
import type { Cluster } from './cluster.js';

/** What a judge says after reading the topology: keep waiting, or the end with its exit code. */
export type Verdict = { done: false } | { done: true; code: 0 | 1; line: string };

export interface Request {
  annotation: string;
  value: string;
  /**
   * Reads the topology after the request was made and says whether it is over. `taken` tells that the
   * operator removed the annotation (it acted on it, or refused it); `say` prints a progress line.
   */
  judge(t: StoredTopology, taken: boolean, say: (line: string) => void): Verdict | Promise<Verdict>;
  /** What to say when the time is up while the operator had taken the request (default: a generic line). */
  stillGoing?(t: StoredTopology): string;
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
  say: (line: string) => void;
}

export async function requestAndWait(
  cluster: Cluster,
  ref: TopologyRef,
  first: StoredTopology,
  req: Request,
  o: WaitOptions,
): Promise<0 | 1> {
  const started = Date.now();
  const say = (line: string) => o.say(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);
  let t = first;
  for (let attempt = 0; ; attempt++) {
    const present = t.annotations[req.annotation];
    if (present !== undefined && present !== req.value)
      throw new UserError(
        `${req.annotation} is already set to "${present}": wait for the operator to act on it, or remove it (kubectl annotate mysqltopology ${ref.name} ${req.annotation}-)`,
      );
    if (present === req.value) break;
    if (await cluster.annotate(ref, req.annotation, req.value, t.resourceVersion)) break;
    if (attempt >= 3) throw new UserError(`mysqltopology ${ref.name} keeps changing; try again`);
    t = await cluster.get(ref);
  }
  say(`asked: ${req.annotation}=${req.value}`);
  let taken = false;
  const deadline = started + o.timeoutMs;
  for (;;) {
    await sleep(systemClock, o.pollMs ?? 500);
    t = await cluster.get(ref);
    if (!taken && t.annotations[req.annotation] !== req.value) {
      taken = true;
      say('the operator took the request');
    }
    const v = await req.judge(t, taken, say);
    if (v.done) {
      say(v.line);
      return v.code;
    }
    if (Date.now() >= deadline) break;
  }
  const seconds = Math.round(o.timeoutMs / 1000);
  if (taken) {
    say(`timed out after ${seconds}s: ${req.stillGoing?.(t) ?? 'no result in status yet'}`);
    return 1;
  }
  // Nobody acted on it: withdraw it (only if it is still ours, unchanged), so it cannot fire later.
  const withdrawn =
    t.annotations[req.annotation] === req.value &&
    (await cluster.annotate(ref, req.annotation, null, t.resourceVersion));
  say(
    `timed out after ${seconds}s: no operator acted on the request (is one running and watching namespace ${ref.namespace}?)` +
      (withdrawn ? '; request withdrawn' : ''),
  );
  return 1;
}
