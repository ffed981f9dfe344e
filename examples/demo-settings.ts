/**
 * How a demo worker runs: examples/demo.ts starts its workers with these (DEMO_CONCURRENCY,
 * DEMO_HEARTBEAT), and examples/demo-worker.ts falls back to them when started on its own.
 */

/** tasks a demo worker runs at once */
export const CONCURRENCY = 4;
/** a demo worker's heartbeatInterval, ms */
export const HEARTBEAT_MS = 300;
