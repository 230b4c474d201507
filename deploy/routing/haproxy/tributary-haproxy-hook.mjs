#!/usr/bin/env node
/* global process, Buffer, setTimeout, clearTimeout */
// Tributary's routing hook for HAProxy (README.md beside this file). It moves HAProxy's writer and reader
// backends of the group through the runtime API (HAPROXY_RUNTIME: a unix socket path or host:port, `level
// admin`), with no reload. No dependencies: Node 20+ only. Two modes, the same steps:
//   (no argument)  --routing-hook: run once per step, one JSON document on standard input, exit 0 = done.
//   --serve        --routing-hook-persistent: one document per line on standard input, one answer line each
//                  on stdout, {"ok":true} or {"ok":false,"error":"…"}; a failure keeps it serving. It ends
//                  at the end of its input.
//   route    the writer slot takes the member's address; ready, or maint when the member is not ready
//   drain    the writer slot goes to maint and its open sessions are cut: nothing more reaches that primary
//   readers  the reader slots hold exactly the members; the other slots go to maint, their sessions cut
// A slot whose address changes always has its sessions cut first: a session opened to the old address
// must not keep writing (or reading) there. A failure is one line (on stderr and exit 1, or the answer);
// it prints one line per slot it changed on stdout.
import { createConnection, isIP, isIPv4 } from 'node:net';
import { createInterface } from 'node:readline';

const COMMAND_TIMEOUT_MS = 3000;
const WRITER_SLOT = 'writer';
// HAProxy's CLI splits commands on `;` and lines: names and addresses are checked before they reach it.
const NAME = /^[A-Za-z0-9._-]{1,253}$/;

class HookError extends Error {}
const fail = (message) => {
  throw new HookError(message);
};

// ---- input ---------------------------------------------------------------------------------------------

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** The document, checked field by field; returns { action, writer, readers, members: [{ name, ip, port, ready }] }. */
function parseDocument(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail(`input is not JSON: ${e.message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('input: expected one JSON object');
  const { action, writer, readers, members } = doc;
  if (!['route', 'drain', 'readers'].includes(action))
    fail(`action: expected route, drain or readers, got ${JSON.stringify(action)}`);
  for (const [field, value] of [
    ['writer', writer],
    ['readers', readers],
  ])
    if (typeof value !== 'string' || !NAME.test(value))
      fail(`${field}: expected a backend name (letters, digits, . _ -), got ${JSON.stringify(value)}`);
  if (!Array.isArray(members)) fail('members: expected an array');
  const checked = members.map((m, i) => member(m, `members[${i}]`));
  if (action === 'route' && checked.length !== 1)
    fail(`members: route takes exactly one member, got ${checked.length}`);
  return { action, writer, readers, members: checked };
}

function member(m, at) {
  if (typeof m !== 'object' || m === null) fail(`${at}: expected an object`);
  const name = typeof m.name === 'string' && m.name ? m.name : fail(`${at}.name: expected a string`);
  if (!Number.isInteger(m.port) || m.port < 1 || m.port > 65535)
    fail(`${at}.port (${name}): expected a port 1-65535, got ${JSON.stringify(m.port)}`);
  if (typeof m.ready !== 'boolean') fail(`${at}.ready (${name}): expected true or false`);
  if (m.addresses !== undefined && !Array.isArray(m.addresses))
    fail(`${at}.addresses (${name}): expected an array of IP addresses`);
  const addresses = m.addresses ?? [];
  for (const a of addresses)
    if (typeof a !== 'string' || !isIP(a))
      fail(`${at}.addresses (${name}): ${JSON.stringify(a)} is not an IP address`);
  // HAProxy's `set server … addr` takes an IP: the first IPv4 the operator resolved, else the host itself
  // when it is an IP literal.
  const ip =
    addresses.find((a) => isIPv4(a)) ??
    (typeof m.host === 'string' && isIP(m.host) ? m.host : undefined) ??
    fail(
      `${at}.addresses (${name}): no IPv4 address, and host ${JSON.stringify(m.host)} is not an IP address`,
    );
  return { name, ip, port: m.port, ready: m.ready };
}

// ---- the runtime API -------------------------------------------------------------------------------------

/** HAPROXY_RUNTIME as net.createConnection options: a unix socket path, or host:port ([v6]:port). */
function runtimeTarget(raw) {
  if (!raw) fail('HAPROXY_RUNTIME is not set: give the runtime API socket path or host:port');
  if (raw.includes('/')) return { path: raw };
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(raw);
  if (!m) fail(`HAPROXY_RUNTIME: expected a unix socket path or host:port, got ${JSON.stringify(raw)}`);
  return { host: m[1], port: Number(m[2]) };
}

/** One command on its own connection (HAProxy answers and closes in non-interactive mode). */
function send(target, command) {
  const where = target.path ?? `${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = createConnection(target);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new HookError(`HAProxy runtime API at ${where} did not answer "${command}" within 3 s`));
    }, COMMAND_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.end(`${command}\n`));
    socket.on('data', (d) => (answer += d));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(new HookError(`HAProxy runtime API at ${where}: ${e.code ?? e.message} on "${command}"`));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

const firstLine = (s) => s.trim().split('\n')[0] || '(empty answer)';

/** HAProxy answers errors as text: say which command it refused, and why. */
function refused(command, answer) {
  const why = firstLine(answer);
  const hint = /permission denied/i.test(why) ? ' (the runtime API socket needs `level admin`)' : '';
  fail(`HAProxy refused "${command}": ${why}${hint}`);
}

/** Sends a command whose success answer is empty (`set server … state`, `shutdown sessions server`). */
async function quiet(target, command) {
  const answer = await send(target, command);
  if (answer.trim() !== '') refused(command, answer);
}

async function setAddr(target, backend, slot, ip, port) {
  const command = `set server ${backend}/${slot} addr ${ip} port ${port}`;
  const answer = await send(target, command);
  // Success says what changed: "IP changed from …" or "no need to change the addr, …".
  if (!/^(IP changed from|no need to change the addr)/.test(answer.trim())) refused(command, answer);
}

// srv_admin_state bits that take a server out of traffic: forced (0x01), inherited (0x02) and DNS (0x20)
// maintenance. 0x04 only says the configuration started it `disabled`, and stays set once it is ready.
const MAINT = 0x23;
const DRAIN = 0x18;

/** The slots of a backend, in server id order, from `show servers state <backend>`. */
async function slots(target, backend) {
  const command = `show servers state ${backend}`;
  const answer = await send(target, command);
  const lines = answer.split('\n').filter((l) => l.trim() !== '');
  if (lines[0]?.trim() !== '1' || !lines[1]?.startsWith('#'))
    fail(`HAProxy backend ${backend}: "${command}" answered ${firstLine(answer)}`);
  const header = lines[1].slice(1).trim().split(/\s+/);
  const col = (row, name) => row[header.indexOf(name)];
  const out = lines
    .slice(2)
    .map((l) => l.trim().split(/\s+/))
    .filter((row) => col(row, 'be_name') === backend)
    .map((row) => {
      const admin = Number(col(row, 'srv_admin_state'));
      return {
        id: Number(col(row, 'srv_id')),
        name: col(row, 'srv_name'),
        addr: col(row, 'srv_addr'),
        port: Number(col(row, 'srv_port')),
        state: admin & MAINT ? 'maint' : admin & DRAIN ? 'drain' : 'ready',
      };
    })
    .sort((a, b) => a.id - b.id);
  if (out.length === 0) fail(`HAProxy backend ${backend} has no server slots`);
  return out;
}

const where = (s) => `${s.addr}:${s.port} ${s.state}`;

// ---- the steps -------------------------------------------------------------------------------------------

/** Points a slot at ip:port in `state`; cuts its sessions first when the address changes. */
async function place(target, backend, slot, ip, port, state, print, why) {
  const moved = slot.addr !== ip || slot.port !== port;
  if (moved) {
    // Nothing may reach the new address through sessions of the old one, nor the old through new ones.
    await quiet(target, `set server ${backend}/${slot.name} state maint`);
    await quiet(target, `shutdown sessions server ${backend}/${slot.name}`);
    await setAddr(target, backend, slot.name, ip, port);
  }
  await quiet(target, `set server ${backend}/${slot.name} state ${state}`);
  if (moved || slot.state !== state)
    print(
      `${backend}/${slot.name}: ${ip}:${port} ${state} (was ${where(slot)}${moved ? ', sessions cut' : ''}) ${why}`,
    );
}

/** Takes a slot out of traffic and cuts its sessions (maint alone leaves open connections running). */
async function retire(target, backend, slot, print, why) {
  await quiet(target, `set server ${backend}/${slot.name} state maint`);
  await quiet(target, `shutdown sessions server ${backend}/${slot.name}`);
  if (slot.state !== 'maint')
    print(`${backend}/${slot.name}: maint, sessions cut (was ${where(slot)}) ${why}`);
}

async function route(target, doc, print) {
  const [m] = doc.members;
  const slot = (await slots(target, doc.writer)).find((s) => s.name === WRITER_SLOT);
  if (!slot) fail(`HAProxy backend ${doc.writer} has no server named ${WRITER_SLOT}`);
  await place(
    target,
    doc.writer,
    slot,
    m.ip,
    m.port,
    m.ready ? 'ready' : 'maint',
    print,
    `(route ${m.name})`,
  );
}

async function drain(target, doc, print) {
  // Whatever the slot holds leaves: until the next route, the writer endpoint holds nobody.
  const slot = (await slots(target, doc.writer)).find((s) => s.name === WRITER_SLOT);
  if (!slot) fail(`HAProxy backend ${doc.writer} has no server named ${WRITER_SLOT}`);
  const who = doc.members.map((m) => m.name).join(', ') || 'the writer';
  await retire(target, doc.writer, slot, print, `(drain ${who})`);
}

async function readers(target, doc, print) {
  const all = await slots(target, doc.readers);
  if (doc.members.length > all.length)
    fail(
      `HAProxy backend ${doc.readers} has ${all.length} server slots for ${doc.members.length} readers: add slots (server-template) to the configuration`,
    );
  // A reader already in a ready slot keeps it (its open sessions live on); the others take free slots in order.
  const taken = new Map();
  const rest = [];
  for (const m of doc.members) {
    const s = all.find((x) => !taken.has(x) && x.state === 'ready' && x.addr === m.ip && x.port === m.port);
    if (s) taken.set(s, m);
    else rest.push(m);
  }
  for (const m of rest)
    taken.set(
      all.find((x) => !taken.has(x)),
      m,
    );
  // Leavers first: a slot is never shared by two members, and a reader leaving is cut before others join.
  for (const s of all) if (!taken.has(s)) await retire(target, doc.readers, s, print, '(not a reader)');
  for (const [s, m] of taken)
    await place(target, doc.readers, s, m.ip, m.port, 'ready', print, `(reader ${m.name})`);
}

// ---- main ------------------------------------------------------------------------------------------------

/** One step, from the document's text: prints one line per slot it changed (or that nothing changed). */
async function step(text) {
  const target = runtimeTarget(process.env.HAPROXY_RUNTIME);
  const doc = parseDocument(text);
  const lines = [];
  const print = (l) => {
    lines.push(l);
    process.stdout.write(`${l}\n`);
  };
  await { route, drain, readers }[doc.action](target, doc, print);
  if (lines.length === 0) process.stdout.write(`${doc.action}: HAProxy already holds it, nothing changed\n`);
}

/** The one line a failure is told in (stderr, or a --serve answer). */
const failure = (e) =>
  `tributary-haproxy-hook: ${(e instanceof HookError ? e.message : `unexpected error: ${e?.stack ?? e}`).split('\n')[0]}`;

/** --serve: a step per input line, one at a time, each answered on a line of its own; ends with the input. */
async function serve() {
  // The operator gone (its end of the pipe closed): nothing is left to answer.
  process.stdout.on('error', () => process.exit(0));
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    let answer;
    try {
      await step(line);
      answer = { ok: true };
    } catch (e) {
      answer = { ok: false, error: failure(e) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}

const args = process.argv.slice(2);
if (args.length > 1 || (args.length === 1 && args[0] !== '--serve')) {
  process.stderr.write(`tributary-haproxy-hook: expected no argument or --serve, got ${args.join(' ')}\n`);
  process.exit(2);
}
(args[0] === '--serve' ? serve() : readStdin().then(step)).then(
  () => (process.exitCode = 0),
  (e) => {
    process.stderr.write(`${failure(e)}\n`);
    process.exitCode = 1;
  },
);
