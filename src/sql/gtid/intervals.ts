// Inclusive intervals of sequence numbers: the body of one MySQL GTID set entry (`1-5:7-9`).
// bigint throughout: MySQL sequence numbers go up to 2^63-1, far past Number.MAX_SAFE_INTEGER.

export interface Interval {
  readonly start: bigint;
  readonly end: bigint;
}

/** Sorted, disjoint and non-adjacent: the only shape the functions below return. */
export type IntervalList = readonly Interval[];

const byStart = (x: Interval, y: Interval): number => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0);

/** Sorts and merges overlapping or adjacent intervals: 1-5 and 6-9 become 1-9, as the server prints them. */
export function normalizeIntervals(list: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const iv of [...list].sort(byStart)) {
    const last = out[out.length - 1];
    if (last !== undefined && iv.start <= last.end + 1n) {
      if (iv.end > last.end) out[out.length - 1] = { start: last.start, end: iv.end };
    } else {
      out.push(iv);
    }
  }
  return out;
}

export function unionIntervals(a: IntervalList, b: IntervalList): Interval[] {
  return normalizeIntervals([...a, ...b]);
}

/** a − b, in one pass over both sorted lists. */
export function subtractIntervals(a: IntervalList, b: IntervalList): Interval[] {
  const out: Interval[] = [];
  let first = 0; // first interval of b that can still overlap the current interval of a
  for (const iv of a) {
    while (first < b.length && b[first]!.end < iv.start) first++;
    let start = iv.start;
    for (let k = first; k < b.length && b[k]!.start <= iv.end && start <= iv.end; k++) {
      const cut = b[k]!;
      if (cut.start > start) out.push({ start, end: cut.start - 1n });
      if (cut.end + 1n > start) start = cut.end + 1n;
    }
    if (start <= iv.end) out.push({ start, end: iv.end });
  }
  return out;
}

export function intersectIntervals(a: IntervalList, b: IntervalList): Interval[] {
  return subtractIntervals(a, subtractIntervals(a, b));
}

export function countIntervals(list: IntervalList): bigint {
  return list.reduce((sum, iv) => sum + (iv.end - iv.start + 1n), 0n);
}

export function intervalsEqual(a: IntervalList, b: IntervalList): boolean {
  return a.length === b.length && a.every((iv, i) => iv.start === b[i]!.start && iv.end === b[i]!.end);
}

/** `1-5:7`: single numbers stand alone, as MySQL prints them. */
export function formatIntervals(list: IntervalList): string {
  return list.map((iv) => (iv.start === iv.end ? `${iv.start}` : `${iv.start}-${iv.end}`)).join(':');
}
