// "Long context"'s slice of the page's store (`longContext`) and its actions: the text choice, the chosen lengths, trials and variants, the run in progress, and the
// results per model, so switching models and back shows them again (each model's stamped with its C
// and vocabulary, so the charts can put other models' comparable results beside the current one's:
// logic.ts comparedResults). Nothing here is persisted or in
// the URL. Requests go through the controller's `request` / `control` (one request per variant, one
// after another); the worker answers evaluate (with `text` for a pasted text), needle and
// countTokens (src/ui/worker/protocol.ts).

import type { StateCreator } from 'zustand';
import type { Controller } from '../../controller.ts';
import { activeVariant, appStore, useApp, type AppState, type Middlewares } from '../../store/store.ts';
import { evalSettingsOf, positionSetting, seriesId, seriesLabel } from '../../settings.ts';
import type { PendingRequest } from '../../worker/client.ts';
import type { ProgressEvent } from '../../worker/protocol.ts';
import type { ModelMeta } from '../../store/run-slice.ts';
import {
  needleLengths,
  perplexityLengths,
  textKey,
  textTooShortMessage,
  upsertSeries,
  type ModelResults,
  type NeedlePoint,
} from './logic.ts';

export const DEFAULT_TRIALS = 4;
export const MAX_TRIALS = 100;
/** Trial t at every length uses seed NEEDLE_SEED + t, as the CLI's `needle` does by default. */
export const NEEDLE_SEED = 0;

export type TextSource = 'bundled' | 'pasted';

export type { ModelResults };

interface Job {
  variant: string;
  seriesId: string;
  label: string;
}

export interface LongContextRun {
  kind: 'perplexity' | 'needle';
  model: string;
  requestId: number;
  /** This request's variant: job `index` of `count`. */
  label: string;
  index: number;
  count: number;
  done: number;
  total: number;
  length: number;
}

export type TokenCount =
  | { key: string; status: 'counting' }
  | { key: string; status: 'counted'; tokens: number }
  | { key: string; status: 'failed'; message: string };

export interface LongContextState {
  source: TextSource;
  text: string;
  /** Perplexity lengths the user unticked (all are measured by default, whatever the model). */
  unticked: number[];
  /** Tokens per length for perplexity; null: 8x C, one window at the longest length. */
  budget: number | null;
  trials: number;
  /** Variants measured besides the current one. */
  extraVariants: string[];
  count: TokenCount | null;
  results: Record<string, ModelResults>;
  run: LongContextRun | null;
  message: { kind: 'info' | 'error'; text: string } | null;
}

export const initialLongContext = {
  source: 'bundled' as TextSource,
  text: '',
  unticked: [] as number[],
  budget: null as number | null,
  trials: DEFAULT_TRIALS,
  extraVariants: [] as string[],
  count: null as TokenCount | null,
  results: {} as Record<string, ModelResults>,
  run: null as LongContextRun | null,
  message: null as LongContextState['message'],
};

export interface LongContextSlice {
  longContext: LongContextState;
}

export const createLongContextSlice: StateCreator<AppState, Middlewares, [], LongContextSlice> = () => ({
  longContext: { ...initialLongContext },
});

/** Long context's state in the page's store. */
export function longContextState(): LongContextState {
  return appStore().getState().longContext;
}

/** Changes some of it (the component's inputs, the actions below). */
export function patchLongContext(patch: Partial<LongContextState> | ((state: LongContextState) => Partial<LongContextState>)): void {
  appStore().setState((s) => ({ longContext: { ...s.longContext, ...(typeof patch === 'function' ? patch(s.longContext) : patch) } }));
}

export function useLongContext<T>(selector: (state: LongContextState) => T): T {
  return useApp((s) => selector(s.longContext));
}

const EMPTY_RESULTS: ModelResults = { trainContext: null, vocabSize: null, textKey: null, textLabel: '', perplexity: [], needle: [] };

export function resultsOf(state: LongContextState, model: string | undefined): ModelResults {
  return (model && state.results[model]) || EMPTY_RESULTS;
}

/**
 * Changes a model's results; `meta` (the app's, when the run started) stamps them with what other
 * models' results are compared on: its C and vocabulary size (logic.ts comparedResults).
 */
function updateResults(meta: ModelMeta, update: (r: ModelResults) => Partial<ModelResults>): void {
  const model = meta.name;
  patchLongContext((s) => {
    const current = resultsOf(s, model);
    return {
      results: { ...s.results, [model]: { ...current, ...update(current), trainContext: meta.trainContext, vocabSize: meta.vocabSize } },
    };
  });
}

/** The key a token count is kept under: the same text under another tokenizer counts again. */
export function countKey(model: string, text: string): string {
  return `${model}|${textKey('pasted', text)}`;
}

/** The perplexity lengths ticked for a model of training context C. */
export function chosenLengths(state: LongContextState, trainContext: number): number[] {
  return perplexityLengths(trainContext).filter((L) => !state.unticked.includes(L));
}

/** Tokens per length for perplexity. */
export function budgetOf(state: LongContextState, trainContext: number): number {
  return state.budget ?? 8 * trainContext;
}

/** How many tokens the chosen text has, when known: the bundled one from the load, a pasted one once counted. */
export function textTokens(state: LongContextState): number | null {
  const app = appStore().getState();
  if (state.source === 'bundled') return app.weights.kind === 'ready' ? app.weights.summary.validationTokens : null;
  const model = app.meta?.name;
  const count = state.count;
  if (!model || count?.status !== 'counted' || count.key !== countKey(model, state.text)) return null;
  return count.tokens;
}

/** Why "Measure perplexity" cannot run now (null: it can). */
export function perplexityBlocker(state: LongContextState): string | null {
  const app = appStore().getState();
  if (!app.meta) return 'Choose a model first.';
  if (state.source === 'pasted' && state.text.trim() === '') return 'Paste a text first.';
  const tokens = textTokens(state);
  const lengths = chosenLengths(state, app.meta.trainContext);
  if (tokens === null) return lengths.length === 0 ? 'Choose at least one length.' : null;
  return textTooShortMessage(tokens, lengths);
}

// ------------------------------------------------------------------------------------ actions

/** The variants a run measures: the current one, then the ticked others (those still loaded). */
function selectedJobs(): Job[] {
  const app = appStore().getState();
  const current = activeVariant(app);
  const extras = longContextState().extraVariants;
  const variants = app.variants.filter((v) => v.id === current?.id || extras.includes(v.id));
  if (current) variants.sort((a, b) => (a.id === current.id ? -1 : b.id === current.id ? 1 : 0));
  const trainContext = app.meta?.trainContext;
  if (trainContext === undefined) return [];
  return variants.map((v) => {
    const position = positionSetting(app.config, v.hasRope);
    return { variant: v.id, seriesId: seriesId(v.id, position, app.config.c), label: seriesLabel(v, position, app.config.c, trainContext) };
  });
}

type JobProgress = ProgressEvent<'evaluate' | 'needle'>;

/** Runs `jobs` one request after another; `onPoint` gets each length's result as it arrives. */
function runJobs(
  kind: LongContextRun['kind'],
  jobs: Job[],
  send: (job: Job, onProgress: (event: JobProgress) => void) => PendingRequest<'evaluate'> | PendingRequest<'needle'>,
  onPoint: (job: Job, event: Exclude<JobProgress, { type: 'progress' }>) => void,
): void {
  const app = appStore().getState();
  const model = app.meta!.name;
  const next = (index: number) => {
    if (index >= jobs.length) {
      patchLongContext({ run: null, message: null });
      return;
    }
    const job = jobs[index];
    const request = send(job, (event) => {
      const run = longContextState().run;
      if (run?.requestId !== request.id) return;
      if (event.type === 'progress') patchLongContext({ run: { ...run, done: event.done, total: event.total, length: event.length } });
      else onPoint(job, event);
    });
    void request.result.then((end) => {
      if (longContextState().run?.requestId !== request.id) return;
      if (end.type === 'done') next(index + 1);
      else if (end.type === 'error') patchLongContext({ run: null, message: { kind: 'error', text: `${job.label}: ${end.message}` } });
      else patchLongContext({ run: null, message: { kind: 'info', text: 'Cancelled.' } });
    });
    patchLongContext({
      run: { kind, model, requestId: request.id, label: job.label, index, count: jobs.length, done: 0, total: 0, length: 0 },
    });
  };
  patchLongContext({ message: null });
  next(0);
}

function ready(): boolean {
  const app = appStore().getState();
  return app.gpu.kind === 'ready' && app.weights.kind === 'ready' && app.meta !== null && longContextState().run === null;
}

/** "Measure perplexity": each selected variant at the ticked lengths, on the chosen text. */
export function measurePerplexity(controller: Controller): void {
  const state = longContextState();
  const app = appStore().getState();
  if (!ready() || perplexityBlocker(state) !== null) return;
  const meta = app.meta!;
  const C = meta.trainContext;
  const lengths = chosenLengths(state, C);
  const tokens = budgetOf(state, C);
  const text = state.source === 'pasted' ? state.text : undefined;
  const key = textKey(state.source, state.text);
  // Results on another text do not share a chart with these.
  updateResults(meta, (r) =>
    r.textKey === key ? {} : { textKey: key, textLabel: state.source === 'bundled' ? 'Persuasion' : 'your text', perplexity: [] },
  );
  const settings = evalSettingsOf(appStore().getState().config);
  runJobs(
    'perplexity',
    selectedJobs(),
    (job, onProgress) =>
      controller.worker.request(
        { type: 'evaluate', variant: job.variant, settings, lengths, tokens, ...(text === undefined ? {} : { text }) },
        onProgress,
      ),
    (job, event) => {
      if (event.type !== 'point') return;
      updateResults(meta, (r) => ({
        perplexity: upsertSeries(r.perplexity, job.seriesId, job.label, { length: event.length, ppl: event.ppl }),
      }));
    },
  );
}

/** "Run needle test": each selected variant at 1x, 2x, 4x and 8x C, `trials` prompts per length. */
export function runNeedle(controller: Controller): void {
  const state = longContextState();
  const app = appStore().getState();
  if (!ready() || (state.source === 'pasted' && state.text.trim() === '')) return;
  const meta = app.meta!;
  const lengths = needleLengths(meta.trainContext);
  const text = state.source === 'pasted' ? state.text : undefined;
  const settings = evalSettingsOf(appStore().getState().config);
  const trials = state.trials;
  runJobs(
    'needle',
    selectedJobs(),
    (job, onProgress) =>
      controller.worker.request(
        { type: 'needle', variant: job.variant, settings, lengths, trials, seed: NEEDLE_SEED, ...(text === undefined ? {} : { text }) },
        onProgress,
      ),
    (job, event) => {
      if (event.type !== 'needlePoint') return;
      const point: NeedlePoint = {
        length: event.length,
        successes: event.successes,
        trials: event.trials,
        ...(event.tooShort ? { tooShort: true } : {}),
      };
      updateResults(meta, (r) => ({ needle: upsertSeries(r.needle, job.seriesId, job.label, point) }));
    },
  );
}

/** "Cancel long-context run": the running request ends, the variants after it are not started. */
export function cancelLongContext(controller: Controller): void {
  const run = longContextState().run;
  if (!run) return;
  controller.worker.control({ type: 'cancel', target: run.requestId });
  patchLongContext({ run: null, message: { kind: 'info', text: 'Cancelled.' } });
}

/** Counts the pasted text's tokens with the loaded model's tokenizer (in the worker). */
export function countTokens(controller: Controller): void {
  const state = longContextState();
  const app = appStore().getState();
  const model = app.meta?.name;
  if (state.source !== 'pasted' || !model || app.weights.kind !== 'ready' || state.text === '') return;
  const key = countKey(model, state.text);
  if (state.count?.key === key && state.count.status !== 'failed') return;
  patchLongContext({ count: { key, status: 'counting' } });
  const current = () => longContextState().count?.key === key;
  const request = controller.worker.request({ type: 'countTokens', text: state.text }, (event) => {
    if (current()) patchLongContext({ count: { key, status: 'counted', tokens: event.tokens } });
  });
  void request.result.then((end) => {
    if (end.type === 'error' && current()) patchLongContext({ count: { key, status: 'failed', message: end.message } });
  });
}
