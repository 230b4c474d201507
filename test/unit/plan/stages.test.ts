// The plan's stages: the order the executor runs is the order the plan holds (and `tributary plan` prints).
import { describe, expect, it } from 'vitest';
import type { Action } from '../../../src/plan/actions.js';
import { inRunOrder, planStages } from '../../../src/plan/stages.js';

const writable = (member: string): Action => ({ kind: 'SetReadOnly', member, readOnly: false, reason: 'p' });
const fence = (member: string): Action => ({ kind: 'SetReadOnly', member, readOnly: true, reason: 'f' });
const account = (member: string): Action => ({ kind: 'EnsureReplicationUser', member, reason: 'a' });
const configure = (member: string, channel: string): Action => ({
  kind: 'StartChannel',
  member,
  channel,
  reason: 'c',
});

describe('planStages', () => {
  it('a read-only primary is made writable before its account is created, both before other members’ channels', () => {
    const plan = [writable('a-0'), account('a-0'), configure('a-1', ''), fence('a-1')];
    expect(planStages(plan)).toEqual({
      fence: [fence('a-1')],
      accounts: [writable('a-0'), account('a-0')],
      rest: [configure('a-1', '')],
    });
    expect(inRunOrder(plan)).toEqual([fence('a-1'), writable('a-0'), account('a-0'), configure('a-1', '')]);
  });

  it('a member without an account keeps its writable step in plan order after its channel removal (promotion)', () => {
    const plan = [
      { kind: 'RemoveChannel', member: 'a-1', channel: '', reason: 'r' } as Action,
      writable('a-1'),
    ];
    expect(planStages(plan)).toEqual({ fence: [], accounts: [], rest: plan });
  });

  it('is a fixed point: the run order of a plan in run order is itself', () => {
    const plan = [
      configure('dw-0', 'x'),
      writable('a-0'),
      fence('b-0'),
      account('a-0'),
      configure('a-0', 'y'),
      account('b-0'),
      configure('b-1', ''),
    ];
    const once = inRunOrder(plan);
    expect(inRunOrder(once)).toEqual(once);
    expect(planStages(once)).toEqual(planStages(plan));
    // Every action is kept, exactly once.
    expect(once).toHaveLength(plan.length);
    expect(new Set(once)).toEqual(new Set(plan));
  });
});
