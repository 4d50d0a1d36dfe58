// The playground page: the model and its controls on the left, perplexity and retrieval against
// sequence length on the right. State lives in one zustand store (src/ui/store); the engine runs in a Web Worker
// (src/ui/worker), driven by the controller (src/ui/controller.ts), so the page never touches the
// GPU and stays responsive while the model evaluates or trains.

import type { Controller } from './controller.ts';
import { ModelCard } from './features/model/ModelCard.tsx';
import { PositionsCard } from './features/evaluation/PositionsCard.tsx';
import { DropeCard } from './features/recalibration/DropeCard.tsx';
import { AdapterFacts, GpuAlert } from './features/model/GpuStatus.tsx';
import { HubModelCard } from './features/model/HubModel.tsx';
import { LongContextPanel } from './features/long-context/LongContextPanel.tsx';
import { PerplexityPanel } from './features/evaluation/PerplexityPanel.tsx';
import { RetrievalPanel } from './features/retrieval/RetrievalPanel.tsx';
import { AttentionHeatmap } from './features/heatmap/AttentionHeatmap.tsx';
import { SavedVariants } from './features/saved-variants/SavedVariants.tsx';
import { useApp } from './store/store.ts';
import { ComparePanel } from './features/side-by-side/ComparePanel.tsx';
import { PresentationToggle, RopeTeaching } from './features/teaching/RopeTeaching.tsx';
import { setPresentation, usePresentation } from './features/teaching/presentation.ts';

function Notice() {
  const notice = useApp((s) => s.notice);
  if (!notice) return null;
  return (
    <p className="alert small" role="alert">
      {notice}
    </p>
  );
}

export function App({ controller }: { controller: Controller }) {
  const showNotes = useApp((s) => s.showNotes);
  const toggleNotes = useApp((s) => s.toggleNotes);
  // Presentation mode (in the URL's hash): hides what a teacher does not need, enlarges the charts.
  const presenting = usePresentation();
  return (
    <div className={presenting ? 'page presenting' : 'page'}>
      <header className="topbar">
        <div className="title">
          <h1>DroPE Playground</h1>
          <p className="muted tagline">
            RoPE, scaled RoPE and DroPE (dropped positional embeddings) side by side, on a Llama-architecture language model that runs on
            hand-written WGSL kernels in your browser.
          </p>
        </div>
        <div className="topbar-side">
          {!presenting && <AdapterFacts />}
          <PresentationToggle presenting={presenting} onToggle={() => setPresentation(!presenting)} />
          <button type="button" className="toggle small-button" aria-pressed={showNotes} onClick={toggleNotes}>
            Explanations
          </button>
        </div>
      </header>
      <GpuAlert controller={controller} />
      <Notice />
      <main className="layout">
        <div className="controls">
          <ModelCard />
          {!presenting && <HubModelCard controller={controller} />}
          <PositionsCard controller={controller} />
          <DropeCard controller={controller} />
          {!presenting && <SavedVariants controller={controller} />}
        </div>
        <div className="results">
          <PerplexityPanel controller={controller} />
          <RetrievalPanel controller={controller} />
        </div>
      </main>
      <div className="below">
        <RopeTeaching />
        <ComparePanel controller={controller} />
        <AttentionHeatmap controller={controller} />
        <LongContextPanel controller={controller} />
      </div>
    </div>
  );
}
