export * from './task.js';
export * from './worker.js';
export * from './monitor.js';
