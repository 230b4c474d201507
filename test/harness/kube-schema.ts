// What the API server does with a custom resource against its CRD's structural schema, as far as this
// project's tests need it (answers measured on a real kube-apiserver v1.34):
// - pruning: fields the schema does not know are dropped (unless x-kubernetes-preserve-unknown-fields),
//   and so are nulls where the schema does not say nullable;
// - validation: type, enum, required, x-kubernetes-list-type map keys, with the server's messages, e.g.
//   `status.channels[0].ioRunning: Unsupported value: "Yes": supported values: "true", "false", "Connecting"`
//   (values are printed as Go prints them: an enum the CRD's YAML read as booleans shows "true", "false").
export type Schema = { [key: string]: unknown };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const props = (s: Schema) => (s['properties'] as Record<string, Schema> | undefined) ?? {};

/** The value with unknown fields and non-nullable nulls removed, as the server stores it. */
export function prune(value: unknown, schema: Schema | undefined): unknown {
  if (!schema || schema['x-kubernetes-preserve-unknown-fields'] === true) return value;
  if (Array.isArray(value)) {
    const items = schema['items'] as Schema | undefined;
    return value.map((v) => prune(v, items));
  }
  if (!isObject(value)) return value;
  const known = props(schema);
  const extra = schema['additionalProperties'] as Schema | undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const child = known[k] ?? (isObject(extra) ? extra : undefined);
    if (!child) continue;
    if (v === null && child['nullable'] !== true) continue;
    out[k] = prune(v, child);
  }
  return out;
}

/** Go's name of a JSON value's type, as the server's messages show it. */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** A value the way the server quotes it in messages: strings quoted, others as Go prints them. */
const goValue = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v));

/** Validation errors of a value against a structural schema, one `path: message` string each. */
export function validate(value: unknown, schema: Schema, path: string): string[] {
  if (value === null)
    return schema['nullable'] === true
      ? []
      : [`${path}: Invalid value: "null": ${path} in body must be of type ${String(schema['type'])}: "null"`];
  if (value === undefined) return [];
  const errors: string[] = [];
  const type = schema['type'] as string | undefined;
  if (schema['x-kubernetes-int-or-string'] === true) {
    if (!(typeof value === 'string' || Number.isInteger(value)))
      errors.push(
        `${path}: Invalid value: "${jsonType(value)}": ${path} in body must be of type integer or string: "${jsonType(value)}"`,
      );
    return errors;
  }
  const actual = jsonType(value);
  const typeOk =
    !type ||
    (type === 'number' ? actual === 'number' || actual === 'integer' : type === actual) ||
    (type === 'object' && actual === 'object' && isObject(value));
  if (!typeOk) {
    errors.push(`${path}: Invalid value: "${actual}": ${path} in body must be of type ${type}: "${actual}"`);
    return errors;
  }
  const allowed = schema['enum'] as unknown[] | undefined;
  if (allowed && !allowed.some((a) => JSON.stringify(a) === JSON.stringify(value))) {
    errors.push(
      `${path}: Unsupported value: ${goValue(value)}: supported values: ${allowed.map((a) => `"${String(a)}"`).join(', ')}`,
    );
  }
  if (Array.isArray(value)) {
    const items = schema['items'] as Schema | undefined;
    if (items) value.forEach((v, i) => errors.push(...validate(v, items, `${path}[${i}]`)));
    if (schema['x-kubernetes-list-type'] === 'map') {
      const keys = (schema['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [];
      const seen = new Set<string>();
      value.forEach((v, i) => {
        if (!isObject(v)) return;
        const id = JSON.stringify(keys.map((k) => v[k]));
        if (seen.has(id)) {
          const shown = keys.map((k) => `${JSON.stringify(k)}:${goValue(v[k])}`).join(', ');
          errors.push(`${path}[${i}]: Duplicate value: map[string]interface {}{${shown}}`);
        }
        seen.add(id);
      });
    }
  } else if (isObject(value)) {
    for (const k of (schema['required'] as string[] | undefined) ?? [])
      if (value[k] === undefined) errors.push(`${path}.${k}: Required value`);
    const known = props(schema);
    const extra = schema['additionalProperties'] as Schema | undefined;
    for (const [k, v] of Object.entries(value)) {
      const child = known[k] ?? (isObject(extra) ? extra : undefined);
      if (child) errors.push(...validate(v, child, `${path}.${k}`));
    }
  }
  return errors;
}

/** The server's message for a refused object: one error as is, several in brackets. */
export function invalidMessage(kind: string, group: string, name: string, errors: string[]): string {
  const detail = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  return `${kind}.${group} "${name}" is invalid: ${detail}`;
}
