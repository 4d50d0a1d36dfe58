// The retrieval slice of the app's store: the live records test in progress, its choices (trials,
// longest length, which success rate the chart plots, "Show retrieval data") and the results it adds to the
// chart's series. Results go into the run slice's series (Series.retrieval) beside their
// perplexity points, so both charts share one series list, its names and its styles. Nothing here
// is persisted or in the URL.

import type { StateCreator } from 'zustand';
import type { AppState, Middlewares } from '../../store/store.ts';
import { DEFAULT_TRIALS, upsertRetrieval, type RetrievalMeasure, type RetrievalSeriesPoint } from './logic.ts';

export interface RetrievalRun {
  requestId: number;
  /** The loaded model it measures: a switch ends the run. */
  model: string;
  seriesId: string;
  label: string;
  trials: number;
  done: number;
  total: number;
  length: number;
}

export interface RetrievalChoices {
  /** Prompts per length of a live run. */
  retrievalTrials: number;
  /** The longest length a live run measures; null: every length. */
  retrievalUpTo: number | null;
  retrievalMeasure: RetrievalMeasure;
  /** "Show retrieval data": the retrieval chart's own table. */
  showRetrievalData: boolean;
}

export interface RetrievalSlice extends RetrievalChoices {
  retrievalRun: RetrievalRun | null;
  /** How the last run ended, when that needs saying (an error, a stop). */
  retrievalMessage: { kind: 'info' | 'error'; text: string } | null;

  setRetrievalChoices(patch: Partial<RetrievalChoices>): void;
  setRetrievalRun(run: RetrievalRun | null, message?: RetrievalSlice['retrievalMessage']): void;
  /** Updates the running request's progress (ignored once another request runs). */
  retrievalProgress(requestId: number, done: number, total: number, length: number): void;
  /** Puts a measured result into a series, creating the series when it is new. */
  addRetrievalPoint(seriesId: string, label: string, point: RetrievalSeriesPoint): void;
}

export const initialRetrieval = {
  retrievalTrials: DEFAULT_TRIALS,
  retrievalUpTo: null as number | null,
  retrievalMeasure: 'all' as RetrievalMeasure,
  showRetrievalData: false,
  retrievalRun: null as RetrievalRun | null,
  retrievalMessage: null as RetrievalSlice['retrievalMessage'],
};

export const createRetrievalSlice: StateCreator<AppState, Middlewares, [], RetrievalSlice> = (set) => ({
  ...initialRetrieval,
  setRetrievalChoices: (patch) => set(patch),
  setRetrievalRun: (run, message = null) => set({ retrievalRun: run, retrievalMessage: message }),
  retrievalProgress: (requestId, done, total, length) =>
    set((state) =>
      state.retrievalRun?.requestId === requestId ? { retrievalRun: { ...state.retrievalRun, done, total, length } } : state,
    ),
  addRetrievalPoint: (id, label, point) =>
    set((state) => {
      const existing = state.series.find((s) => s.id === id);
      if (existing) {
        return {
          series: state.series.map((s) => (s.id === id ? { ...s, retrieval: upsertRetrieval(s.retrieval ?? [], point) } : s)),
        };
      }
      return {
        series: [...state.series, { id, label, style: state.nextStyle, points: [], retrieval: [point] }],
        nextStyle: state.nextStyle + 1,
      };
    }),
});
