// Requests a person makes on the resource through annotations: part of the resource's contract, read by
// decide (plan) and removed by the stores once acted on.
export const ANNOTATION_SWITCHOVER = 'tributary.dev/switchover';
export const ANNOTATION_ACK_FAILOVER = 'tributary.dev/ack-failover';
