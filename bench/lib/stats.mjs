// Small statistics over sorted samples and rounds.

/** The q-quantile of ascending `sorted` (nearest rank), or NaN when there are none. */
export function percentile(sorted, q) {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * The median over rounds of `a`'s value ÷ `b`'s in the same round. Rounds of figures that are compared are
 * taken in turn, so a fast or slow spell of a shared machine falls on both sides of most ratios, where a ratio
 * of two medians could pair one figure's fast rounds with the other's slow ones.
 */
export function pairedRatio(a, b, field = 'rps') {
  const count = Math.min(a.rounds.length, b.rounds.length);
  return median(Array.from({ length: count }, (_, round) => a.rounds[round][field] / b.rounds[round][field]));
}
