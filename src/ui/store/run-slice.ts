// The run slice: what the page knows about the GPU, the models, the variants made from them and
// the numbers measured so far. Serializable values only: the worker owns the device, weights,
// tokenizer and typed arrays (src/ui/worker/engine-worker.ts), so a lost device never leaves a
// dead GPU object in the store.

import type { StateCreator } from 'zustand';
import type { RecordedCurve, RecordedRetrieval, ShippedModel, ShippedProblem } from '../features/model/recorded-curves.ts';
import type { RetrievalSeriesPoint } from '../features/retrieval/logic.ts';
import { BASE_VARIANT, seriesId, seriesLabel, type VariantInfo } from '../settings.ts';
import type { AdapterInfo, ModelSummary } from '../worker/protocol.ts';
import type { AppState, Middlewares } from './store.ts';

export type GpuState =
  | { kind: 'checking' }
  | { kind: 'ready'; adapter: AdapterInfo }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'failed'; message: string };

/** One entry of /models/index.json. */
export interface ModelEntry {
  name: string;
  label: string;
  description: string;
}

export type ModelsState = { kind: 'loading' } | { kind: 'ready'; models: ModelEntry[] } | { kind: 'missing'; message: string };

/** What config.json says about the selected model, read on the page (no GPU needed). */
export interface ModelMeta {
  name: string;
  trainContext: number;
  hasRope: boolean;
  /** e.g. "4 layers, 4 heads, hidden size 128, vocabulary 256" */
  summary: string;
  /** vocab_size: results of models with the same one (and C) can share a chart. */
  vocabSize: number;
  /** Why eval.json's recorded curves could not be shown, when it exists but does not read. */
  recordedProblem: string | null;
}

export type WeightsState =
  | { kind: 'idle' }
  | { kind: 'loading'; name: string }
  | { kind: 'ready'; name: string; summary: ModelSummary }
  | { kind: 'failed'; name: string; message: string };

export interface SeriesPoint {
  length: number;
  ppl: number;
  /** 'recorded': from eval.json; 'measured': evaluated here, in this page. */
  source: 'recorded' | 'measured';
}

export interface Series {
  id: string;
  label: string;
  /** Index into the chart's dash patterns and colours, fixed when the series is created. */
  style: number;
  points: SeriesPoint[];
  /** The records test by length (src/ui/features/retrieval): recorded in eval.json or measured here. */
  retrieval?: RetrievalSeriesPoint[];
  /**
   * Set on a shipped model's recorded series (not the loaded model's): its own C_train, which the
   * tooltip names when it differs from the loaded model's training length.
   */
  trainContext?: number;
}

/** Ids of the shipped models' recorded series: apart from any variant's, so live points never land there. */
export const SHIPPED_PREFIX = 'shipped|';

export interface EvaluationState {
  requestId: number;
  seriesId: string;
  /** The series' legend name, shown while it is measured (before its first point exists). */
  label: string;
  done: number;
  total: number;
  length: number;
}

export interface FitState {
  requestId: number;
  done: number;
  total: number;
  /** The c found, once done, with the score (mean ln perplexity at the fitted lengths) per c. */
  result?: { c: number; lengths: number[]; scores: { c: number; score: number }[] };
}

export interface RecalibrationState {
  requestId: number;
  status: 'preparing' | 'running' | 'paused' | 'done' | 'stopped' | 'failed';
  from: string;
  steps: number;
  lr: number;
  batch: number;
  step: number;
  losses: { step: number; loss: number }[];
  message?: string;
  /** The variant it made, once done. */
  variant?: string;
  /** The latest checkpoint kept of this run (variant-store key): a lost device resumes from there. */
  kept?: { step: number; key: string };
  /** Set when a lost device ended the run: the steps completed by then (the progress shown). */
  lostAt?: number;
}

export interface RunSlice {
  gpu: GpuState;
  models: ModelsState;
  meta: ModelMeta | null;
  weights: WeightsState;
  variants: VariantInfo[];
  activeVariant: string;
  series: Series[];
  /** Styles handed out so far, so a new series never reuses a removed one's look. */
  nextStyle: number;
  evaluation: EvaluationState | null;
  fit: FitState | null;
  recalibration: RecalibrationState | null;
  /** The latest error of an action, shown until the next one starts. */
  notice: string | null;
  /** Every listed model's recorded curves (eval.json), read at start; shown for all but the loaded one. */
  shipped: ShippedModel[];
  /** The listed models whose recorded curves could not be shown, and why. */
  shippedProblems: ShippedProblem[];

  setGpu(gpu: GpuState): void;
  setModels(models: ModelsState): void;
  /** A model was chosen: forget everything about the previous one, show its recorded curves. */
  startModel(meta: ModelMeta | null, recorded: RecordedCurve[], base: VariantInfo | null): void;
  setWeights(weights: WeightsState): void;
  addVariant(variant: VariantInfo, activate: boolean): void;
  setActiveVariant(id: string): void;
  /** Puts a measured point into a series, creating the series when it is new. */
  addMeasuredPoint(seriesId: string, label: string, length: number, ppl: number): void;
  removeSeries(id: string): void;
  setEvaluation(evaluation: EvaluationState | null): void;
  setFit(fit: FitState | null): void;
  setRecalibration(recalibration: RecalibrationState | null): void;
  updateRecalibration(requestId: number, patch: Partial<RecalibrationState>): void;
  addLoss(requestId: number, step: number, loss: number): void;
  setNotice(notice: string | null): void;
  /** The shipped models' recorded curves arrived: into the chart, beside the loaded model's. */
  setShipped(models: ShippedModel[], problems: ShippedProblem[]): void;
}

export const initialRun = {
  gpu: { kind: 'checking' } as GpuState,
  models: { kind: 'loading' } as ModelsState,
  meta: null,
  weights: { kind: 'idle' } as WeightsState,
  variants: [] as VariantInfo[],
  activeVariant: BASE_VARIANT,
  series: [] as Series[],
  nextStyle: 0,
  evaluation: null,
  fit: null,
  recalibration: null,
  notice: null,
  shipped: [] as ShippedModel[],
  shippedProblems: [] as ShippedProblem[],
};

/**
 * The live series a recorded curve belongs to, when eval.json gives settings a live evaluation of
 * the loaded weights can reproduce: then that evaluation refines it, point by point.
 */
function liveSeriesOf(base: VariantInfo | null, meta: ModelMeta | null, curve: RecordedCurve): { id: string; label: string } | null {
  const settings = curve.settings;
  if (!base || !meta || !settings) return null;
  // Without RoPE in the weights, every evaluation is mode 'none'.
  if (!base.hasRope && settings.position.kind !== 'none') return null;
  const { position, c } = settings;
  return { id: seriesId(base.id, position, c), label: seriesLabel(base, position, c, meta.trainContext) };
}

/**
 * The chart series of the shipped models other than the loaded one (`loaded`: its folder name, or
 * null), styled from `firstStyle` on in index.json order. Recorded only: hollow dots, no live twin.
 */
export function shippedSeries(models: readonly ShippedModel[], loaded: string | null, firstStyle: number): Series[] {
  const series: Series[] = [];
  for (const model of models) {
    if (model.name === loaded) continue;
    for (const curve of model.curves) {
      const id = `${SHIPPED_PREFIX}${model.name}|${curve.label}`;
      if (series.some((s) => s.id === id)) continue;
      series.push({
        id,
        label: curve.label,
        style: firstStyle + series.length,
        trainContext: model.trainContext,
        points: curve.points.map((p) => ({ ...p, source: 'recorded' as const })),
        ...recordedRetrieval(curve.retrieval),
      });
    }
  }
  return series;
}

/** A curve's recorded retrieval points as a series holds them (none: the key is left out). */
function recordedRetrieval(retrieval: RecordedRetrieval[] | undefined): Pick<Series, 'retrieval'> {
  return retrieval ? { retrieval: retrieval.map((p) => ({ ...p, source: 'recorded' as const })) } : {};
}

function upsertPoint(points: SeriesPoint[], point: SeriesPoint): SeriesPoint[] {
  return [...points.filter((p) => p.length !== point.length), point].sort((a, b) => a.length - b.length);
}

export const createRunSlice: StateCreator<AppState, Middlewares, [], RunSlice> = (set) => ({
  ...initialRun,
  setGpu: (gpu) => set({ gpu }),
  setModels: (models) => set({ models }),
  startModel: (meta, recorded, base) =>
    set((state) => {
      const series: Series[] = [];
      for (const curve of recorded) {
        const live = liveSeriesOf(base, meta, curve);
        const id = live?.id ?? `recorded|${curve.label}`;
        // Two curves with the same settings: the first wins.
        if (series.some((s) => s.id === id)) continue;
        series.push({
          id,
          label: live?.label ?? curve.label,
          style: series.length,
          points: curve.points.map((p) => ({ ...p, source: 'recorded' as const })),
          ...recordedRetrieval(curve.retrieval),
        });
      }
      // The other shipped models' curves stay: the story needs them whichever model is loaded.
      series.push(...shippedSeries(state.shipped, meta?.name ?? null, series.length));
      return {
        meta,
        weights: { kind: 'idle' } as WeightsState,
        variants: base ? [base] : [],
        activeVariant: BASE_VARIANT,
        series,
        nextStyle: series.length,
        evaluation: null,
        fit: null,
        recalibration: null,
        notice: null,
      };
    }),
  setWeights: (weights) => set({ weights }),
  addVariant: (variant, activate) =>
    set((state) => ({
      variants: [...state.variants.filter((v) => v.id !== variant.id), variant],
      activeVariant: activate ? variant.id : state.activeVariant,
    })),
  setActiveVariant: (id) => set((state) => (state.variants.some((v) => v.id === id) ? { activeVariant: id } : state)),
  addMeasuredPoint: (id, label, length, ppl) =>
    set((state) => {
      const point: SeriesPoint = { length, ppl, source: 'measured' };
      const existing = state.series.find((s) => s.id === id);
      if (existing) {
        return { series: state.series.map((s) => (s.id === id ? { ...s, label, points: upsertPoint(s.points, point) } : s)) };
      }
      return { series: [...state.series, { id, label, style: state.nextStyle, points: [point] }], nextStyle: state.nextStyle + 1 };
    }),
  removeSeries: (id) => set((state) => ({ series: state.series.filter((s) => s.id !== id) })),
  setEvaluation: (evaluation) => set({ evaluation }),
  setFit: (fit) => set({ fit }),
  setRecalibration: (recalibration) => set({ recalibration }),
  updateRecalibration: (requestId, patch) =>
    set((state) => (state.recalibration?.requestId === requestId ? { recalibration: { ...state.recalibration, ...patch } } : state)),
  addLoss: (requestId, step, loss) =>
    set((state) => {
      const r = state.recalibration;
      if (r?.requestId !== requestId) return state;
      return { recalibration: { ...r, step, losses: [...r.losses.filter((p) => p.step !== step), { step, loss }] } };
    }),
  setNotice: (notice) => set({ notice }),
  setShipped: (models, problems) =>
    set((state) => {
      const added = shippedSeries(models, state.meta?.name ?? null, state.nextStyle);
      return {
        shipped: models,
        shippedProblems: problems,
        series: [...state.series.filter((s) => !s.id.startsWith(SHIPPED_PREFIX)), ...added],
        nextStyle: state.nextStyle + added.length,
      };
    }),
});
