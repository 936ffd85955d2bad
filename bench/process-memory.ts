/**
 * The process's memory after a full GC (needs node --expose-gc): V8 heap used
 * plus external (ArrayBuffer) memory, and RSS. bench:index and bench:open
 * take their per-key figures as the growth of these over open() or a load.
 */
export function memoryAfterGc(): { heap: number; rss: number } {
  (globalThis as { gc?: () => void }).gc!();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed + usage.external, rss: usage.rss };
}
