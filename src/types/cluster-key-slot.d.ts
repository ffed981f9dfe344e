/** Redis Cluster's slot of a key (CRC16 of its hash tag, or of the whole key, mod 16384): ioredis's own dependency */
declare module 'cluster-key-slot' {
  function calculateSlot(key: string): number;
  export default calculateSlot;
}
