// The learning-rate schedule of the toy-scale reference runs: linear warm-up from 0 to the peak
// over `warmup` steps, then cosine decay to 0 at `total` steps.

export interface Schedule {
  peak: number;
  warmup: number;
  total: number;
}

/** The learning rate for 0-based step `step`. */
export function learningRate(step: number, { peak, warmup, total }: Schedule): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return 0.5 * peak * (1 + Math.cos(Math.PI * progress));
}
