// The README's tables, made from eval files (src/eval/curves.ts) so that every number in them is
// one a file records: perplexity against length, and the records test's success (all, and inside /
// outside the last C_train tokens) for every series of every model given. Pure logic.

import type { EvalFile } from './curves.ts';
import type { RetrievalPoint } from './records.ts';

/** A model's eval file and the name its rows carry. */
export interface ReportModel {
  name: string;
  file: EvalFile;
}

const ratio = (length: number, trainContext: number) => {
  const x = length / trainContext;
  return Number.isInteger(x) ? `${x}x` : `${x.toFixed(2)}x`;
};

const percent = (x: number | null) => (x === null ? '—' : `${Math.round(100 * x)}%`);

/** "all (inside / outside)", the inside / outside part left out where one side had no trial. */
function retrievalCell(point: RetrievalPoint | undefined): string {
  if (!point) return '';
  if (point.inside === null || point.outside === null) return percent(point.all);
  return `${percent(point.all)} (${percent(point.inside)} / ${percent(point.outside)})`;
}

/** The row name of a series: the model's name, then the series' label where the model has several. */
function rowName(model: ReportModel, label: string): string {
  return model.file.series.length > 1 ? `${model.name}: ${label}` : `${model.name} (${label})`;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Per-byte (per-token) perplexity of every series at the lengths the files share. */
export function perplexityTable(models: readonly ReportModel[]): string {
  const lengths = sharedLengths(models.map((m) => m.file.lengths));
  const C = models[0].file.train_ctx;
  const rows = models.flatMap((model) =>
    model.file.series.map((s) => [rowName(model, s.label), ...lengths.map((L) => formatPerplexity(s.ppl[String(L)]))]),
  );
  return table(['perplexity at length', ...lengths.map((L) => `${L} (${ratio(L, C)})`)], rows);
}

/** The records test's success of every series, all (inside / outside the last C_train tokens). */
export function retrievalTable(models: readonly ReportModel[]): string {
  const withRetrieval = models.filter((m) => m.file.retrieval);
  if (withRetrieval.length === 0) throw new Error('none of the eval files records retrieval');
  const lengths = sharedLengths(withRetrieval.map((m) => m.file.retrieval!.lengths));
  const C = withRetrieval[0].file.train_ctx;
  const rows = withRetrieval.flatMap((model) =>
    model.file.series.map((s) => [rowName(model, s.label), ...lengths.map((L) => retrievalCell(s.retrieval?.[String(L)]))]),
  );
  return table(['retrieval: all (inside / outside)', ...lengths.map((L) => `${L} (${ratio(L, C)})`)], rows);
}

function formatPerplexity(x: number | undefined): string {
  if (x === undefined) return '';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** The lengths every list has, ascending. */
function sharedLengths(lists: readonly number[][]): number[] {
  return lists[0].filter((L) => lists.every((list) => list.includes(L))).sort((a, b) => a - b);
}
