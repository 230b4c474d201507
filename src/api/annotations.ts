// Requests a person makes on the resource through annotations, and the events a pass reports: part of
// the resource's contract, read by decide (plan) and written by the stores.
export const ANNOTATION_SWITCHOVER = 'tributary.dev/switchover';
export const ANNOTATION_ACK_FAILOVER = 'tributary.dev/ack-failover';

export interface TopologyEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}
