/** Parses the summary table `strace -c` writes: calls per syscall name. */
export function parseStraceSummary(text: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // Rows: % time, seconds, usecs/call, calls, [errors], syscall; the total row ends with "total".
    if (fields.length < 5 || !/^\d/.test(fields[0]) || fields.at(-1) === 'total') continue;
    calls.set(fields.at(-1)!, Number(fields[3]));
  }
  return calls;
}
