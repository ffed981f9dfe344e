/** (the deployments live in tools/, shared with the bench's Sentinel scenario) */
export * from '../../tools/deployments.js';
