// JSON merge patches (RFC 7386) as the Kubernetes store sends them.
//
// A null in a merge patch deletes the key, and the API server prunes nulls from every object it stores
// through a merge patch (inside arrays too): a stored object never holds a null-valued key. So the store
// never sends a null except to delete, strips nulls from what it writes (stripNulls), and diffs against
// the stored object with nulls stripped the same way: absent and null mean the same on both sides.

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep equality of JSON values (undefined-valued keys count as absent). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/** The value with every null- or undefined-valued object key removed, at every depth (arrays included). */
export function stripNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => stripNulls(v)) as T;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = stripNulls(v);
  return out as T;
}

/**
 * The merge patch that turns `from` into `to`, or undefined when they are equal. Both are read with nulls
 * stripped; keys missing from `to` become null (deleted); arrays are replaced whole. The patch holds no
 * other null, at any depth.
 */
export function mergePatchDiff(from: unknown, to: unknown): unknown {
  return diff(stripNulls(from), stripNulls(to));
}

function diff(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return jsonEqual(from, to) ? undefined : to;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const d = diff(from[k], v);
    if (d !== undefined) patch[k] = d;
  }
  return Object.keys(patch).length ? patch : undefined;
}
