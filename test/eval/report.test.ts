// The README's tables (src/eval/report.ts) from eval files: every cell is a number the files hold.

import { describe, expect, it } from 'vitest';
import { planSeries, seriesRecord, EVAL_FORMAT, EVAL_VERSION, type EvalFile } from '../../src/eval/curves.ts';
import { perplexityTable, retrievalTable } from '../../src/eval/report.ts';

const C = 64;
const lengths = [64, 128, 256];

function file(kinds: ('rope' | 'crop' | 'none')[], attentionType: string, withRetrieval: boolean): EvalFile {
  const plans = planSeries(kinds, lengths, { trainContext: C, maxPositionEmbeddings: C, betaC: 0, attentionType });
  const point = (inside: number, insideTrials: number, outside: number, trials = 10) => ({
    all: (inside * insideTrials + outside * (trials - insideTrials)) / trials,
    inside: insideTrials ? inside : null,
    outside: trials - insideTrials ? outside : null,
    trials,
    inside_trials: insideTrials,
    outside_trials: trials - insideTrials,
  });
  const retrieval = new Map([
    [64, point(0.9, 10, 0)],
    [256, point(1, 2, 0.125, 10)],
  ]);
  return {
    format: EVAL_FORMAT,
    version: EVAL_VERSION,
    model: 'm',
    text: 'persuasion.txt',
    tokens: 1024,
    train_ctx: C,
    lengths,
    series: plans.map((plan, i) =>
      seriesRecord(plan, new Map(lengths.map((L) => [L, 4 + i + L / 1000])), withRetrieval ? retrieval : undefined),
    ),
    ...(withRetrieval
      ? {
          retrieval: {
            task: 'records' as const,
            format: 'lookup' as const,
            records: 4,
            text: 'persuasion.txt',
            trials: 10,
            seed: 0,
            lengths: [64, 256],
          },
        }
      : {}),
  };
}

describe('report tables', () => {
  const rope = { name: 'austen-rope', file: file(['rope', 'crop'], 'rope', true) };
  const drope = { name: 'austen-drope', file: file(['none'], 'nope', true) };

  it('perplexity: one row per series, one column per length with its multiple of C_train', () => {
    expect(perplexityTable([rope, drope]).split('\n')).toEqual([
      '| perplexity at length | 64 (1x) | 128 (2x) | 256 (4x) |',
      '| --- | --- | --- | --- |',
      '| austen-rope: RoPE | 4.06 | 4.13 | 4.26 |',
      '| austen-rope: RoPE, cropped to the last 64 tokens | 5.06 | 5.13 | 5.26 |',
      '| austen-drope (DroPE) | 4.06 | 4.13 | 4.26 |',
    ]);
  });

  it('retrieval: all, then inside / outside where both had trials', () => {
    const lines = retrievalTable([rope, drope]).split('\n');
    expect(lines[0]).toBe('| retrieval: all (inside / outside) | 64 (1x) | 256 (4x) |');
    expect(lines[2]).toBe('| austen-rope: RoPE | 90% | 30% (100% / 13%) |');
    expect(lines).toHaveLength(5);
  });

  it('refuses files without retrieval', () => {
    expect(() => retrievalTable([{ name: 'x', file: file(['rope'], 'rope', false) }])).toThrow(/none of the eval files records retrieval/);
  });
});
