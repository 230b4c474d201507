// A condition as a pass decides it; the status projection adds its transition time and generation. A leaf
// module, so that the planners that draft conditions need not import decide.ts (which imports them).
import type { Condition } from '../api/status.js';

export type ConditionDraft = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;
