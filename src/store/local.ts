// The local store: manifest files hold the MySQLTopology and its Secrets; a status file is the memory.
//
// - The files are the user's: never written. They are re-read when their mtime/size changes, so edits are
//   picked up by the next pass.
// - The status file (`--status-out`, JSON or YAML by extension) is written atomically whenever the pass
//   writes status, and read back at start: it carries what the status subresource carries for the operator
//   (managed channels, the failover journal), plus `handledAnnotations`.
// - removeAnnotation cannot remove anything from the files: it remembers the annotation's value as handled
//   (in memory and in the status file) and hides it from get() until the files hold another value.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseStoredStatus, type TopologyStatus } from '../api/status.js';
import { oneLine } from '../util/errors.js';
import {
  ManifestError,
  localSelection,
  readManifests,
  type SecretManifest,
  type TopologyManifest,
} from './manifests.js';
import {
  ConflictError,
  type StatusWriteOptions,
  type Store,
  type StoredTopology,
  type TopologyEvent,
  type TopologyRef,
} from './store.js';

export interface LocalStoreOptions {
  files: string[];
  /** Status file: JSON, or YAML when it ends in .yaml/.yml. Without it, status lives in memory only. */
  statusOut?: string;
  /** Where events go, one line each (`Normal ChannelCreated: …`). Default: stderr. */
  log?: (line: string) => void;
  /** How many recent events to keep in memory (default 100). */
  eventLimit?: number;
}

export interface RecordedEvent extends TopologyEvent {
  ref: TopologyRef;
  time: string;
}

interface Loaded {
  stamp: string;
  topology: TopologyManifest;
  namespace: string;
  secrets: Map<string, SecretManifest>;
  specJson: string;
}

export class LocalStore implements Store {
  readonly files: readonly string[];
  readonly statusOut: string | undefined;
  private readonly log: (line: string) => void;
  private readonly eventLimit: number;
  private readonly recent: RecordedEvent[] = [];
  private loaded: Loaded | undefined;
  private statusRead = false;
  private status: TopologyStatus | undefined;
  /** Parts of the status file that did not parse, until the next status write replaces it. */
  private statusProblems: string[] = [];
  private generation = 0;
  /** Counts this process's writes (status, handled annotations): the local resourceVersion. */
  private version = 1;
  /** Annotation key → the value already acted on. */
  private readonly handled = new Map<string, string>();
  /** Annotations set from the command line (e.g. --ack-failover), on top of the files'. */
  private readonly overlay = new Map<string, string>();
  private writes: Promise<void> = Promise.resolve();
  /** How often the files were parsed (they are re-parsed only when their stat stamp changes). */
  parseCount = 0;

  constructor(options: LocalStoreOptions);
  constructor(files: string[], statusOut?: string, options?: Omit<LocalStoreOptions, 'files' | 'statusOut'>);
  constructor(
    a: LocalStoreOptions | string[],
    statusOut?: string,
    rest: Omit<LocalStoreOptions, 'files' | 'statusOut'> = {},
  ) {
    const o: LocalStoreOptions = Array.isArray(a)
      ? { ...rest, files: a, ...(statusOut !== undefined ? { statusOut } : {}) }
      : a;
    this.files = [...o.files];
    this.statusOut = o.statusOut;
    this.log = o.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.eventLimit = o.eventLimit ?? 100;
  }

  /** Reads the files and the status file; throws a ManifestError (one line) when they are unusable. */
  async load(): Promise<void> {
    await this.refresh();
  }

  async list(): Promise<TopologyRef[]> {
    const l = await this.refresh();
    return [this.refOf(l)];
  }

  async get(ref: TopologyRef): Promise<StoredTopology | undefined> {
    const l = await this.refresh();
    if (!sameRef(ref, this.refOf(l))) return undefined;
    const spec = l.topology.object['spec'];
    return {
      ref: this.refOf(l),
      generation: this.generation,
      resourceVersion: String(this.version),
      annotations: this.visibleAnnotations(l),
      spec: spec === undefined ? undefined : structuredClone(spec),
      ...(this.status ? { status: structuredClone(this.status) } : {}),
      ...(this.statusProblems.length ? { statusProblems: [...this.statusProblems] } : {}),
    };
  }

  async readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const l = await this.refresh();
    if (namespace !== l.namespace) return undefined;
    const s = l.secrets.get(name);
    return s ? { ...s.data } : undefined;
  }

  async writeStatus(
    ref: TopologyRef,
    status: TopologyStatus,
    observedGeneration: number,
    options: StatusWriteOptions = {},
  ): Promise<{ resourceVersion?: string }> {
    const next: TopologyStatus = { ...structuredClone(status), observedGeneration };
    delete next.handledAnnotations;
    return this.serially(async () => {
      const l = await this.refresh();
      if (!sameRef(ref, this.refOf(l))) return {};
      if (options.resourceVersion !== undefined && options.resourceVersion !== String(this.version))
        throw new ConflictError(`writing status of ${ref.name}`);
      this.status = next;
      this.statusProblems = [];
      this.version++;
      await this.persist();
      return { resourceVersion: String(this.version) };
    });
  }

  async emitEvent(ref: TopologyRef, event: TopologyEvent): Promise<void> {
    this.recent.push({ ...event, ref: { ...ref }, time: new Date().toISOString() });
    if (this.recent.length > this.eventLimit) this.recent.splice(0, this.recent.length - this.eventLimit);
    this.log(oneLine(`${event.type} ${event.reason}: ${event.message}`));
  }

  async removeAnnotation(ref: TopologyRef, key: string): Promise<{ resourceVersion?: string }> {
    return this.serially(async () => {
      const l = await this.refresh();
      if (!sameRef(ref, this.refOf(l))) return {};
      this.overlay.delete(key);
      const value = l.topology.annotations[key];
      if (value !== undefined && this.handled.get(key) !== value) {
        this.handled.set(key, value);
        this.version++;
        await this.persist();
      }
      return { resourceVersion: String(this.version) };
    });
  }

  /** Sets an annotation on top of the files' (command-line requests); removeAnnotation consumes it. */
  setAnnotation(key: string, value: string): void {
    this.overlay.set(key, value);
  }

  /** The most recent events, oldest first. */
  events(): readonly RecordedEvent[] {
    return [...this.recent];
  }

  /** Waits for pending status writes. */
  async flush(): Promise<void> {
    await this.writes.catch(() => undefined);
  }

  private refOf(l: Loaded): TopologyRef {
    return { namespace: l.namespace, name: l.topology.name };
  }

  private visibleAnnotations(l: Loaded): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(l.topology.annotations)) if (this.handled.get(k) !== v) out[k] = v;
    for (const [k, v] of this.overlay) out[k] = v;
    return out;
  }

  /** Re-reads the files when any changed (or on first use), and the status file once. */
  private async refresh(): Promise<Loaded> {
    if (!this.statusRead) {
      await this.readStatusFile();
      this.statusRead = true;
    }
    const stamp = await this.stamp();
    if (this.loaded && this.loaded.stamp === stamp) return this.loaded;
    this.parseCount += 1;
    const manifests = await readManifests(this.files);
    const { topology, namespace, secrets } = localSelection(manifests, this.files);
    const specJson = JSON.stringify(topology.object['spec'] ?? null);
    if (!this.loaded) this.generation = Math.max(1, this.status?.observedGeneration ?? 1);
    else if (this.loaded.specJson !== specJson) this.generation += 1;
    this.loaded = { stamp, topology, namespace, secrets, specJson };
    // A handled annotation the files no longer carry (or carry with another value) is forgotten:
    // the same request written again later is a new request.
    for (const [k, v] of [...this.handled]) if (topology.annotations[k] !== v) this.handled.delete(k);
    return this.loaded;
  }

  private async stamp(): Promise<string> {
    const parts = await Promise.all(
      this.files.map(async (f) => {
        try {
          const s = await stat(f);
          return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
        } catch (e) {
          throw new ManifestError([
            oneLine(`${f}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`),
          ]);
        }
      }),
    );
    return parts.join('|');
  }

  private get yaml(): boolean {
    return this.statusOut !== undefined && ['.yaml', '.yml'].includes(extname(this.statusOut).toLowerCase());
  }

  private async readStatusFile(): Promise<void> {
    const file = this.statusOut;
    if (!file) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new ManifestError([
        oneLine(
          `${file}: cannot read the status file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        ),
      ]);
    }
    if (text.trim() === '') return;
    let raw: unknown;
    try {
      raw = this.yaml ? parseYaml(text) : JSON.parse(text);
    } catch (e) {
      throw new ManifestError([
        oneLine(
          `${file}: not a status file (${(e as Error).message.split('\n')[0]}); move it away to start afresh`,
        ),
      ]);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ManifestError([
        oneLine(`${file}: not a status file (not an object); move it away to start afresh`),
      ]);
    }
    const { handledAnnotations, ...rest } = raw as Record<string, unknown>;
    if (handledAnnotations !== undefined) {
      if (
        typeof handledAnnotations !== 'object' ||
        handledAnnotations === null ||
        Array.isArray(handledAnnotations)
      ) {
        throw new ManifestError([
          oneLine(`${file}: handledAnnotations must be a map; move the file away to start afresh`),
        ]);
      }
      for (const [k, v] of Object.entries(handledAnnotations))
        if (typeof v === 'string') this.handled.set(k, v);
    }
    if (Object.keys(rest).length === 0) return; // only handled annotations were recorded so far
    // What does not parse is left out and named (the journal is kept whenever it can be read); the next
    // status write replaces the file.
    const { status, problems } = parseStoredStatus(rest);
    if (!status) {
      throw new ManifestError([
        oneLine(
          `${file}: not a Tributary status (${problems[0] ?? 'unreadable'}); move it away to start afresh`,
        ),
      ]);
    }
    this.status = status;
    this.statusProblems = problems.map((p) => oneLine(`${file}: ${p}`));
  }

  /** Runs state changes that end in a status-file write one after another, in call order. */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.catch(() => undefined).then(fn);
    this.writes = run.then(() => undefined);
    return run;
  }

  /** Writes status + handled annotations to the status file, atomically (called inside serially()). */
  private async persist(): Promise<void> {
    const file = this.statusOut;
    if (!file) return;
    const body: Record<string, unknown> = { ...(this.status ?? {}) };
    if (this.handled.size > 0) body['handledAnnotations'] = Object.fromEntries(this.handled);
    const text = this.yaml ? stringifyYaml(body, { lineWidth: 0 }) : `${JSON.stringify(body, null, 2)}\n`;
    await writeAtomically(file, text);
  }
}

/** Temp file in the same directory, fsync, rename: a reader sees the old file or the new one, never half. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new Error(`writing ${file}: ${(e as Error).message}`);
  }
}

function sameRef(a: TopologyRef, b: TopologyRef): boolean {
  return a.namespace === b.namespace && a.name === b.name;
}
