// TLS of channels as tables: what each mode asks of a channel, what counts as drift, and what the analysis
// plans from it; refusals (login, privilege, TLS) reported and never counted as a dead primary.
import { describe, expect, it } from 'vitest';
import type { TlsSpec } from '../../../src/api/spec.js';
import { analyze, channelTls, tlsDifferences } from '../../../src/analyze/findings.js';
import { buildView } from '../../../src/analyze/view.js';
import { planConvergence } from '../../../src/plan/converge.js';
import { assessPrimaries, nextStreaks } from '../../../src/plan/health.js';
import { NO_CHANNEL_TLS } from '../../../src/sql/dialect.js';
import { gtidOps } from '../../../src/sql/gtid/index.js';
import { channel, converged, instance, warehouse } from '../../fixtures/topology.js';

const CA = '/etc/mysql/tls/ca.pem';
const tls = (mode: TlsSpec['mode']): TlsSpec => ({ mode, channels: { caPath: CA } });

describe('channelTls: what each mode asks of a channel', () => {
  it.each([
    ['no tls in the spec', undefined, undefined, undefined, NO_CHANNEL_TLS],
    ['disabled', tls('disabled'), true, undefined, NO_CHANNEL_TLS],
    [
      'preferred, the source offers TLS',
      tls('preferred'),
      true,
      undefined,
      { enabled: true, caFile: '', verifyServerCert: false },
    ],
    ['preferred, the source offers none', tls('preferred'), false, undefined, NO_CHANNEL_TLS],
    [
      'preferred, unknown: as the channel has it (off)',
      tls('preferred'),
      undefined,
      { sslAllowed: false },
      NO_CHANNEL_TLS,
    ],
    [
      'preferred, unknown, no channel yet: on',
      tls('preferred'),
      undefined,
      undefined,
      { enabled: true, caFile: '', verifyServerCert: false },
    ],
    [
      'required: on, no CA (MySQL would verify with one)',
      tls('required'),
      false,
      undefined,
      { enabled: true, caFile: '', verifyServerCert: false },
    ],
    [
      'verify-ca: the CA on the servers',
      tls('verify-ca'),
      true,
      undefined,
      { enabled: true, caFile: CA, verifyServerCert: false },
    ],
    [
      'verify-identity: the CA and the host name',
      tls('verify-identity'),
      true,
      undefined,
      { enabled: true, caFile: CA, verifyServerCert: true },
    ],
  ] as const)('%s', (_n, spec, offers, current, want) => {
    expect(channelTls(spec, offers, current)).toEqual(want);
  });
});

describe('tlsDifferences: drift of a channel’s TLS', () => {
  const verifying = { enabled: true, caFile: CA, verifyServerCert: true };
  it.each([
    [
      'as asked',
      { sslAllowed: true, sslCaFile: CA, sslVerifyServerCert: true, getSourcePublicKey: false },
      verifying,
      [],
    ],
    [
      'TLS off',
      { sslAllowed: false, sslCaFile: CA, sslVerifyServerCert: true },
      verifying,
      ['TLS off, want on'],
    ],
    [
      'CA removed by hand',
      { sslAllowed: true, sslCaFile: '', sslVerifyServerCert: true },
      verifying,
      [`TLS CA file none, want ${CA}`],
    ],
    [
      'verification off',
      { sslAllowed: true, sslCaFile: CA, sslVerifyServerCert: false },
      verifying,
      ['server certificate not verified, want verified'],
    ],
    [
      'a CA directory set by hand',
      { sslAllowed: true, sslCaFile: CA, sslVerifyServerCert: true, sslCaPath: '/etc/ssl/certs' },
      verifying,
      ['TLS CA directory /etc/ssl/certs, want none'],
    ],
    [
      'MySQL asks for the RSA key over TLS',
      { sslAllowed: true, sslCaFile: CA, sslVerifyServerCert: true, getSourcePublicKey: true },
      verifying,
      ['asks the source for its RSA key over TLS'],
    ],
    [
      'MySQL without TLS no longer asks for the RSA key',
      { getSourcePublicKey: false },
      NO_CHANNEL_TLS,
      ['does not ask the source for its RSA key'],
    ],
    ['MariaDB has no RSA key option', { getSourcePublicKey: null }, NO_CHANNEL_TLS, []],
  ] as const)('%s', (_n, over, want, diffs) => {
    expect(tlsDifferences(channel('shard_a', 'a-0', over), want)).toEqual(diffs);
  });
});

function plan(spec = warehouse(), obs = converged()) {
  const view = buildView(spec, obs);
  const findings = analyze({ view, gtid: gtidOps, remembered: [], replicationUser: 'repl' });
  const actions = planConvergence(findings, {
    paused: false,
    memberGroup: (m) => view.members.get(m)?.group,
  });
  return { view, findings, actions };
}

describe('TLS in the analysis', () => {
  it('a converged plaintext topology asked for verify-identity: every managed channel is repointed, none else', () => {
    const spec = warehouse(
      (s) =>
        void (s.tls = { mode: 'verify-identity', caSecretRef: { name: 'ca' }, channels: { caPath: CA } }),
    );
    const { actions, findings } = plan(spec);
    expect(actions.map((a) => `${a.kind} ${a.member}/${'channel' in a ? a.channel : ''}`)).toEqual([
      'ConfigureChannel a-1/',
      'ConfigureChannel dw-1/',
      'ConfigureChannel dw-0/shard_a',
      'ConfigureChannel dw-0/shard_b',
    ]);
    for (const a of actions)
      expect(a.kind === 'ConfigureChannel' && a.desired.tls).toEqual({
        enabled: true,
        caFile: CA,
        verifyServerCert: true,
      });
    expect(findings.find((f) => f.kind === 'ChannelConfigDrift')).toMatchObject({
      differences: [
        'TLS off, want on',
        `TLS CA file none, want ${CA}`,
        'server certificate not verified, want verified',
      ],
    });
  });

  it('preferred toward a source seen without TLS: the channel stays plaintext (no drift)', () => {
    const spec = warehouse((s) => void (s.tls = { mode: 'preferred' }));
    const obs = converged();
    for (const i of obs.instances) i.tls = i.member !== 'b-0';
    for (const i of obs.instances)
      i.channels = i.channels.map((c) => (c.sourcePort === 1003 ? c : { ...c, sslAllowed: true }));
    expect(plan(spec, obs).actions).toEqual([]);
  });

  it('a channel logging in as another account is repointed to the replication account', () => {
    const obs = converged({
      'dw-0': { channels: [channel('shard_a', 'a-0', { sourceUser: 'old' }), channel('shard_b', 'b-0')] },
    });
    expect(plan(warehouse(), obs).findings.find((f) => f.kind === 'ChannelConfigDrift')).toMatchObject({
      member: 'dw-0',
      channel: 'shard_a',
      differences: ['logs in as old, want repl'],
    });
  });
});

describe('refusals: the server answers but the operator cannot use it', () => {
  const refusedA0 = (kind: 'auth' | 'privilege' | 'tls') => {
    const obs = converged();
    obs.instances[0] = {
      ...instance('a-0', { reachable: false }),
      refused: kind,
      error: 'a-0 (h:1001): missing privilege SLAVE MONITOR (docs/security.md lists the grants): …',
    };
    return obs;
  };

  it.each(['auth', 'privilege', 'tls'] as const)(
    '%s: reported by name, no streak, never dead, nothing done on it',
    (kind) => {
      const obs = refusedA0(kind);
      const streaks = nextStreaks(new Map([['a-0', { since: 0, failures: 50 }]]), obs.instances, 100_000);
      expect(streaks.has('a-0')).toBe(false);
      const view = buildView(warehouse(), obs);
      // Even with a long streak handed in, a refusing primary is not dead.
      const health = assessPrimaries(
        view,
        new Map([['a-0', { since: 0, failures: 50 }]]),
        { downAfterMs: 1, failureThreshold: 1 },
        100_000,
      );
      expect(health.find((h) => h.group === 'shard-a')).toMatchObject({ state: 'Refused', refused: kind });
      const { findings, actions } = plan(warehouse(), obs);
      expect(
        findings.filter((f) => f.kind === 'InstanceRefused' || f.kind === 'InstanceUnreachable'),
      ).toEqual([
        {
          kind: 'InstanceRefused',
          member: 'a-0',
          refused: kind,
          error: expect.stringMatching(/^a-0 \(h:1001\): missing privilege/),
        },
      ]);
      expect(actions.filter((a) => a.member === 'a-0')).toEqual([]);
    },
  );

  it('an unreachable member still counts on (the streak goes on)', () => {
    const obs = converged({ 'a-0': { reachable: false } });
    const streaks = nextStreaks(new Map([['a-0', { since: 0, failures: 2 }]]), obs.instances, 5);
    expect(streaks.get('a-0')).toEqual({ since: 0, failures: 3 });
  });
});
