// A conservative stand-in for the API server's static cost estimate of CRD validation rules (CEL), for
// the subset of CEL this project's rules use. It exists because a real kube-apiserver refused our CRD
// ("estimated rule cost exceeds budget by factor of 2.1x") and no API server can run here.
//
// What the server does (k8s.io/apiextensions-apiserver, ValidateCustomResourceDefinition; cel-go's
// checker/cost.go): each rule's worst-case cost is estimated from the schema (a list has maxItems
// elements, a string maxLength characters), multiplied by the rule's cardinality (how many times it can
// run: the product of the maxItems of the lists enclosing the node that carries it), and refused above
// StaticEstimatedCostLimit (10^7) per rule or StaticEstimatedCRDCostLimit (10^8) for all rules of a CRD.
//
// Here every operation costs at least what cel-go charges: 1 per identifier, field selection, has() and
// comparison, 10 per list literal, and string work at 0.1 per character (cel-go's traversal factor) plus
// 1; a comprehension (all, exists, exists_one, filter, map) costs its range plus maxItems × (its body + 3,
// the loop condition and step). Anything outside the subset throws, so a new kind of rule cannot slip
// through unestimated. Nested list macros are reported separately: they are quadratic and not allowed.

export type SchemaNode = { [key: string]: unknown };

type Ast =
  | { k: 'ident'; name: string }
  | { k: 'lit'; value: string | number | boolean }
  | { k: 'list'; items: Ast[] }
  | { k: 'select'; target: Ast; field: string }
  | { k: 'call'; target?: Ast; fn: string; args: Ast[] }
  | { k: 'op'; op: string; args: Ast[] };

const TOKEN =
  /\s*(?:(\|\||&&|==|!=|<=|>=|[!<>()[\],.?:+-])|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/y;

type Token = { op?: string; ident?: string; int?: number; str?: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < src.length) {
    if (/^\s*$/.test(src.slice(TOKEN.lastIndex))) break;
    const m = TOKEN.exec(src);
    if (!m) throw new Error(`CEL estimate: cannot read ${JSON.stringify(src.slice(TOKEN.lastIndex))}`);
    if (m[1]) out.push({ op: m[1] });
    else if (m[2]) out.push(m[2] === 'in' ? { op: 'in' } : { ident: m[2] });
    else if (m[3]) out.push({ int: Number(m[3]) });
    else out.push({ str: m[4] ?? m[5] ?? '' });
  }
  return out;
}

/** Parses the subset: literals, lists, identifiers, selections, calls, ! - && || == != < <= > >= in ?:. */
export function parseCel(src: string): Ast {
  const t = tokenize(src);
  let i = 0;
  const peek = (op: string) => t[i]?.op === op;
  const take = (op: string) => {
    if (!peek(op)) throw new Error(`CEL estimate: expected ${op} in ${src}`);
    i++;
  };
  const args = (close: string): Ast[] => {
    const out: Ast[] = [];
    if (peek(close)) {
      i++;
      return out;
    }
    for (;;) {
      out.push(expr());
      if (peek(',')) i++;
      else break;
    }
    take(close);
    return out;
  };
  const primary = (): Ast => {
    const tok = t[i++];
    if (!tok) throw new Error(`CEL estimate: unexpected end of ${src}`);
    if (tok.op === '(') {
      const e = expr();
      take(')');
      return e;
    }
    if (tok.op === '[') return { k: 'list', items: args(']') };
    if (tok.int !== undefined) return { k: 'lit', value: tok.int };
    if (tok.str !== undefined) return { k: 'lit', value: tok.str };
    if (tok.ident === 'true' || tok.ident === 'false') return { k: 'lit', value: tok.ident === 'true' };
    if (tok.ident) {
      if (peek('(')) {
        i++;
        return { k: 'call', fn: tok.ident, args: args(')') };
      }
      return { k: 'ident', name: tok.ident };
    }
    throw new Error(`CEL estimate: unexpected ${JSON.stringify(tok)} in ${src}`);
  };
  const member = (): Ast => {
    let e = primary();
    for (;;) {
      if (peek('.')) {
        i++;
        const name = t[i++]?.ident;
        if (!name) throw new Error(`CEL estimate: expected a field after . in ${src}`);
        if (peek('(')) {
          i++;
          e = { k: 'call', target: e, fn: name, args: args(')') };
        } else e = { k: 'select', target: e, field: name };
      } else if (peek('[')) {
        i++;
        const index = expr();
        take(']');
        e = { k: 'op', op: 'index', args: [e, index] };
      } else return e;
    }
  };
  const unary = (): Ast => {
    if (peek('!') || peek('-')) {
      const op = t[i++]!.op!;
      return { k: 'op', op, args: [unary()] };
    }
    return member();
  };
  const binary = (ops: string[], next: () => Ast) => (): Ast => {
    let e = next();
    while (ops.some(peek)) {
      const op = t[i++]!.op!;
      e = { k: 'op', op, args: [e, next()] };
    }
    return e;
  };
  const add = binary(['+', '-'], unary);
  const rel = binary(['==', '!=', '<', '<=', '>', '>=', 'in'], add);
  const and = binary(['&&'], rel);
  const or = binary(['||'], and);
  function expr(): Ast {
    const c = or();
    if (peek('?')) {
      i++;
      const a = expr();
      take(':');
      return { k: 'op', op: '?:', args: [c, a, expr()] };
    }
    return c;
  }
  const e = expr();
  if (i !== t.length) throw new Error(`CEL estimate: trailing input in ${src}`);
  return e;
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'filter', 'map']);
const STRING_METHODS = new Set(['lowerAscii', 'upperAscii', 'trim', 'startsWith', 'endsWith', 'contains']);

/** A value's worst-case shape: lists with their maxItems, strings with their maxLength. */
type Shape =
  | { kind: 'list'; maxItems: number; elem: Shape }
  | { kind: 'string'; maxLength: number }
  | { kind: 'object'; node: SchemaNode }
  | { kind: 'scalar' };

function shapeOf(node: SchemaNode | undefined): Shape {
  if (!node) return { kind: 'scalar' };
  switch (node['type']) {
    case 'array':
      return {
        kind: 'list',
        maxItems: typeof node['maxItems'] === 'number' ? node['maxItems'] : Infinity,
        elem: shapeOf(node['items'] as SchemaNode),
      };
    case 'string':
      return {
        kind: 'string',
        maxLength: Array.isArray(node['enum'])
          ? Math.max(...(node['enum'] as string[]).map((v) => String(v).length))
          : typeof node['maxLength'] === 'number'
            ? node['maxLength']
            : Infinity,
      };
    case 'object':
      return { kind: 'object', node };
    default:
      return { kind: 'scalar' };
  }
}

const stringWork = (s: Shape) => (s.kind === 'string' ? 1 + Math.ceil(0.1 * s.maxLength) : 1);

export interface RuleEstimate {
  /** Worst-case cost of one evaluation. */
  cost: number;
  /** List macros found inside the body of another list macro. */
  nestedMacros: string[];
}

/** Estimates one rule evaluated with `self` bound to `node`. */
export function estimateRule(rule: string, node: SchemaNode): RuleEstimate {
  const nestedMacros: string[] = [];
  const visit = (e: Ast, env: Map<string, Shape>, inMacro: boolean): { cost: number; shape: Shape } => {
    switch (e.k) {
      case 'lit':
        return {
          cost: 0,
          shape:
            typeof e.value === 'string' ? { kind: 'string', maxLength: e.value.length } : { kind: 'scalar' },
        };
      case 'list': {
        const items = e.items.map((x) => visit(x, env, inMacro));
        const maxLength = Math.max(
          0,
          ...items.map((x) => (x.shape.kind === 'string' ? x.shape.maxLength : 0)),
        );
        return {
          cost: 10 + items.reduce((s, x) => s + x.cost, 0),
          shape: { kind: 'list', maxItems: items.length, elem: { kind: 'string', maxLength } },
        };
      }
      case 'ident': {
        const shape = env.get(e.name);
        if (!shape) throw new Error(`CEL estimate: unknown identifier ${e.name} in ${rule}`);
        return { cost: 1, shape };
      }
      case 'select': {
        const target = visit(e.target, env, inMacro);
        if (target.shape.kind !== 'object')
          throw new Error(`CEL estimate: .${e.field} on a non-object in ${rule}`);
        const props = target.shape.node['properties'] as Record<string, SchemaNode> | undefined;
        if (!props?.[e.field]) throw new Error(`CEL estimate: no field ${e.field} in ${rule}`);
        return { cost: target.cost + 1, shape: shapeOf(props[e.field]) };
      }
      case 'call': {
        if (!e.target) {
          if ((e.fn === 'has' || e.fn === 'size') && e.args.length === 1) {
            const arg = visit(e.args[0]!, env, inMacro);
            return { cost: arg.cost + 1, shape: { kind: 'scalar' } };
          }
          throw new Error(`CEL estimate: function ${e.fn} is not in the estimated subset (${rule})`);
        }
        const target = visit(e.target, env, inMacro);
        if (MACROS.has(e.fn)) {
          if (target.shape.kind !== 'list')
            throw new Error(`CEL estimate: ${e.fn} over a non-list in ${rule}`);
          const [v, body] = e.args;
          if (v?.k !== 'ident' || !body) throw new Error(`CEL estimate: malformed ${e.fn} in ${rule}`);
          if (inMacro) nestedMacros.push(e.fn);
          const inner = visit(body, new Map(env).set(v.name, target.shape.elem), true);
          const shape: Shape =
            e.fn === 'map' || e.fn === 'filter'
              ? {
                  kind: 'list',
                  maxItems: target.shape.maxItems,
                  elem: e.fn === 'map' ? inner.shape : target.shape.elem,
                }
              : { kind: 'scalar' };
          return { cost: target.cost + target.shape.maxItems * (inner.cost + 3), shape };
        }
        if (STRING_METHODS.has(e.fn)) {
          const args = e.args.map((a) => visit(a, env, inMacro));
          return {
            cost:
              target.cost +
              stringWork(target.shape) +
              args.reduce((s, a) => s + a.cost + stringWork(a.shape), 0),
            shape: target.shape,
          };
        }
        if (e.fn === 'size' && e.args.length === 0)
          return { cost: target.cost + 1, shape: { kind: 'scalar' } };
        throw new Error(`CEL estimate: method ${e.fn} is not in the estimated subset (${rule})`);
      }
      case 'op': {
        const args = e.args.map((a) => visit(a, env, inMacro));
        const sum = args.reduce((s, a) => s + a.cost, 0);
        if (e.op === 'in') {
          const list = args[1]!.shape;
          if (list.kind !== 'list') throw new Error(`CEL estimate: in over a non-list in ${rule}`);
          const each = Math.max(stringWork(args[0]!.shape), stringWork(list.elem));
          return { cost: sum + list.maxItems * each, shape: { kind: 'scalar' } };
        }
        if (['==', '!=', '<', '<=', '>', '>='].includes(e.op)) {
          const each = Math.max(...args.map((a) => stringWork(a.shape)));
          return { cost: sum + each, shape: { kind: 'scalar' } };
        }
        if (e.op === 'index') {
          const target = args[0]!.shape;
          return { cost: sum + 1, shape: target.kind === 'list' ? target.elem : { kind: 'scalar' } };
        }
        return { cost: sum + 1, shape: { kind: 'scalar' } };
      }
    }
  };
  const { cost } = visit(parseCel(rule), new Map([['self', shapeOf(node)]]), false);
  return { cost, nestedMacros };
}

export interface PlacedRule {
  path: string;
  rule: string;
  /** How many times the rule can run for one object: the product of the enclosing lists' maxItems. */
  cardinality: number;
  cost: number;
  /** cost × cardinality: what the server compares with StaticEstimatedCostLimit. */
  total: number;
  nestedMacros: string[];
}

/** Every x-kubernetes-validations rule of a structural schema, estimated where it sits. */
export function estimateSchemaRules(node: SchemaNode, path = '$', cardinality = 1): PlacedRule[] {
  const out: PlacedRule[] = [];
  for (const r of (node['x-kubernetes-validations'] as { rule: string }[] | undefined) ?? []) {
    const { cost, nestedMacros } = estimateRule(r.rule, node);
    out.push({ path, rule: r.rule, cardinality, cost, total: cost * cardinality, nestedMacros });
  }
  for (const [k, v] of Object.entries((node['properties'] as Record<string, SchemaNode> | undefined) ?? {}))
    out.push(...estimateSchemaRules(v, `${path}.${k}`, cardinality));
  if (node['items']) {
    const maxItems = typeof node['maxItems'] === 'number' ? node['maxItems'] : Infinity;
    out.push(...estimateSchemaRules(node['items'] as SchemaNode, `${path}[]`, cardinality * maxItems));
  }
  if (node['additionalProperties'] && typeof node['additionalProperties'] === 'object') {
    const maxProperties = typeof node['maxProperties'] === 'number' ? node['maxProperties'] : Infinity;
    out.push(
      ...estimateSchemaRules(
        node['additionalProperties'] as SchemaNode,
        `${path}.*`,
        cardinality * maxProperties,
      ),
    );
  }
  return out;
}

export const STATIC_ESTIMATED_COST_LIMIT = 10_000_000;
export const STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000;
