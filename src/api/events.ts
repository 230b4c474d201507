// The events a pass reports on the resource (Kubernetes Events, or the local store's record): part of the
// resource's contract, raised by decide (plan) and the reconciler, written by the stores.
export interface TopologyEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}
