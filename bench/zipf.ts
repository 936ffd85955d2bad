/**
 * A zipfian chooser of item numbers in [0, n), item 0 the most popular, as
 * YCSB draws keys (Gray et al., "Quickly generating billion-record synthetic
 * databases", SIGMOD 1994), with YCSB's default skew of 0.99.
 *
 * YCSB scrambles item numbers so the hot items are not neighbours in key
 * order. The benchmarks' keys are random bytes, so item i's key already lands
 * anywhere in key order, and no scrambling is needed.
 */
export function zipfian(n: number, random: () => number, theta = 0.99): () => number {
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`zipfian needs at least 2 items, got ${n}`);
  let zetaN = 0;
  for (let i = 1; i <= n; i++) zetaN += 1 / i ** theta;
  const zeta2 = 1 + 1 / 2 ** theta;
  const alpha = 1 / (1 - theta);
  const eta = (1 - (2 / n) ** (1 - theta)) / (1 - zeta2 / zetaN);
  const secondThreshold = 1 + 0.5 ** theta;
  return () => {
    const u = random();
    const uz = u * zetaN;
    if (uz < 1) return 0;
    if (uz < secondThreshold) return 1;
    return Math.min(n - 1, Math.floor(n * (eta * u - eta + 1) ** alpha));
  };
}
