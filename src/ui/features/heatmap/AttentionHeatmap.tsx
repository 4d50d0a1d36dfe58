// Teaching: one attention head's pattern as a heatmap (query rows, key columns) for the current
// variant and settings, on a passage of the validation text. With RoPE a head's weights
// depend on how far apart two tokens are (a diagonal band: attend to recent tokens); switch RoPE
// off or drop it and the same weights see only content and the causal mask, so the picture changes.
// The worker computes the pattern (LlamaModel.attentionMap via the controller); this card asks for
// it again, debounced, when the variant, RoPE, scaling, c, layer or head changes.

import { useEffect, useRef, useState, type MouseEvent } from 'react';
import type { Controller } from '../../controller.ts';
import { positionKey, positionSetting } from '../../settings.ts';
import { activeVariant, useApp } from '../../store/store.ts';

export const HEATMAP_TITLE = 'Attention heatmap';

/** How long settings must stay still before the pattern is asked for. */
const HEATMAP_DELAY_MS = 250;
/**
 * Width of the grid in CSS pixels at full size (cells are whole pixels: T × floor(GRID_PX / T)). On
 * a narrower card the canvas scales down with it (CSS width 100%, at most its drawn size), keeping
 * this drawing resolution.
 */
const GRID_PX = 448;
/** Room for the token labels left of and above the grid. */
const MARGIN_PX = 14;
/** The largest the canvas can be drawn (in CSS pixels): the figure is no wider. */
const MAX_SIZE_PX = MARGIN_PX + GRID_PX;
/**
 * The bundled monospace face (styles.css), so the labels look the same on every machine; a
 * canvas does not wait for a font, so drawing waits for it to load (see below).
 */
const LABEL_FAMILY = '"Playground Mono", ui-monospace, monospace';

/** Where the grid lies on the canvas, in drawn CSS pixels (before any scaling down). */
interface Geometry {
  /** Side of one cell. */
  cell: number;
  /** Side of the whole canvas, labels included. */
  size: number;
}

/** Font size of the one-character token labels: a monospace glyph is ~0.6 em wide, so 1.45 × cell still fits its cell. */
const labelPx = (cell: number) => Math.min(11, Math.floor(cell * 1.45));

interface HeatmapResult {
  tokens: string[];
  /** [T*T] row-major: query row t, key column j. */
  probs: number[];
  layer: number;
  head: number;
  layers: number;
  heads: number;
  /** What it was computed for: the variant id and whether RoPE was applied. */
  variant: string;
  rope: boolean;
}

/** A short checksum of the probabilities (FNV-1a of values rounded to 1e-5), for tests to see a change. */
export function probsChecksum(probs: ArrayLike<number>): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < probs.length; i++) {
    h ^= Math.round(probs[i] * 1e5) & 0xffffffff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** A token as a short visible label: whitespace and control bytes made visible. */
function showToken(token: string): string {
  return token.replace(/\n/g, '⏎').replace(/ /g, '·').replace(/\t/g, '⇥') || '∅';
}

/** Viridis-like colour ramp (colour-blind safe, dark = 0), at x in [0, 1]. */
const RAMP: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];
function rampColour(x: number): string {
  const t = Math.min(1, Math.max(0, x)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(t));
  const f = t - i;
  const [a, b] = [RAMP[i], RAMP[i + 1]];
  return `rgb(${Math.round(a[0] + f * (b[0] - a[0]))}, ${Math.round(a[1] + f * (b[1] - a[1]))}, ${Math.round(a[2] + f * (b[2] - a[2]))})`;
}

/**
 * Colour of a probability: by its square root, so the small weights spread over many keys stay
 * visible beside a peak near 1 (the legend says so).
 */
const colourOf = (p: number) => rampColour(Math.sqrt(p));

function geometryOf(T: number): Geometry {
  const cell = Math.max(1, Math.floor(GRID_PX / Math.max(1, T)));
  return { cell, size: MARGIN_PX + T * cell };
}

function drawHeatmap(canvas: HTMLCanvasElement, result: HeatmapResult): Geometry {
  const T = result.tokens.length;
  const geometry = geometryOf(T);
  const { cell, size } = geometry;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(size * dpr);
  canvas.height = Math.round(size * dpr);
  // Its drawn size at most, and no wider than the figure (a phone): the height follows the
  // width through the canvas's square aspect ratio.
  canvas.style.width = '100%';
  canvas.style.maxWidth = `${size}px`;
  canvas.style.height = 'auto';
  const ctx = canvas.getContext('2d');
  if (!ctx) return geometry;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, size, size);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < T; j++) {
      // Keys after the query are masked (causal): left blank, not drawn as a 0.
      if (j > t) continue;
      ctx.fillStyle = colourOf(result.probs[t * T + j]);
      ctx.fillRect(MARGIN_PX + j * cell, MARGIN_PX + t * cell, cell, cell);
    }
  }
  // Token labels along both axes, where a cell is wide enough for a character.
  if (cell >= 7) {
    ctx.fillStyle = getComputedStyle(canvas).color || '#444';
    ctx.font = `${labelPx(cell)}px ${LABEL_FAMILY}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    result.tokens.forEach((token, i) => {
      const label = showToken(token).slice(0, 1);
      const mid = MARGIN_PX + i * cell + cell / 2;
      ctx.fillText(label, mid, MARGIN_PX / 2);
      ctx.fillText(label, MARGIN_PX / 2, mid);
    });
  }
  return geometry;
}

function Legend() {
  // The ramp and its two ends stay on one line; the note wraps under them on a narrow card.
  return (
    <div
      className="small muted"
      style={{ display: 'flex', alignItems: 'center', gap: '0.1rem 0.4rem', flexWrap: 'wrap', marginTop: '0.25rem' }}
    >
      <span style={{ display: 'inline-flex', alignItems: 'center', gap: '0.4rem', whiteSpace: 'nowrap' }}>
        weight 0
        <span
          aria-hidden="true"
          style={{
            display: 'inline-block',
            width: 160,
            height: 10,
            borderRadius: 2,
            background: `linear-gradient(to right, ${RAMP.map((c) => `rgb(${c.join(',')})`).join(', ')})`,
          }}
        />
        1
      </span>
      <span>(colour by √weight, so small weights stay visible)</span>
    </div>
  );
}

export function AttentionHeatmap({ controller }: { controller: Controller }) {
  const ready = useApp((s) => s.gpu.kind === 'ready' && s.weights.kind === 'ready');
  const variantId = useApp((s) => activeVariant(s)?.id ?? null);
  const variantLabel = useApp((s) => activeVariant(s)?.label ?? '');
  const hasRope = useApp((s) => activeVariant(s)?.hasRope ?? false);
  const ropeSwitch = useApp((s) => s.config.rope);
  const scaling = useApp((s) => s.config.scaling);
  const factor = useApp((s) => s.config.factor);
  const c = useApp((s) => s.config.c);
  const layer = useApp((s) => s.config.layer);
  const head = useApp((s) => s.config.head);
  const setSetting = useApp((s) => s.setSetting);
  // Its key, not the object: a new object each render would restart the effect below every time.
  const position = positionKey(positionSetting({ rope: ropeSwitch, scaling, factor, c }, hasRope));

  const [result, setResult] = useState<HeatmapResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [hover, setHover] = useState<{ t: number; j: number } | null>(null);
  const canvasRef = useRef<HTMLCanvasElement | null>(null);
  const geometryRef = useRef<Geometry>({ cell: 1, size: MAX_SIZE_PX });

  // Ask again (after a short pause) whenever what the pattern depends on changes; the controller
  // keeps at most one request in the worker and drops superseded results.
  useEffect(() => {
    if (!ready || !variantId) return;
    const rope = position !== 'none';
    const timer = setTimeout(() => {
      setBusy(true);
      controller.heatmap.request(
        layer,
        head,
        (event) => {
          setResult({ ...event, variant: variantId, rope });
          setError(null);
        },
        (end) => {
          if (end.type === 'error') setError(end.message);
          setBusy(false);
        },
      );
    }, HEATMAP_DELAY_MS);
    return () => clearTimeout(timer);
  }, [controller, ready, variantId, position, c, layer, head]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!result || !canvas) return;
    geometryRef.current = drawHeatmap(canvas, result);
    // The first time, the labels' font may not be loaded yet (the canvas drew a fallback): draw
    // again once it is.
    const font = `${labelPx(geometryRef.current.cell)}px ${LABEL_FAMILY}`;
    if (document.fonts.check(font)) return;
    let live = true;
    document.fonts.load(font).then(
      () => {
        if (live) geometryRef.current = drawHeatmap(canvas, result);
      },
      () => {},
    );
    return () => {
      live = false;
    };
  }, [result]);

  const layers = result?.layers ?? layer + 1;
  const heads = result?.heads ?? head + 1;
  const T = result?.tokens.length ?? 0;

  const onMove = (e: MouseEvent<HTMLCanvasElement>) => {
    if (!result) return;
    const box = e.currentTarget.getBoundingClientRect();
    // From the shown (possibly scaled-down) box back to drawn CSS pixels.
    const { cell, size } = geometryRef.current;
    const scale = box.width > 0 ? size / box.width : 1;
    const j = Math.floor(((e.clientX - box.left) * scale - MARGIN_PX) / cell);
    const t = Math.floor(((e.clientY - box.top) * scale - MARGIN_PX) / cell);
    setHover(t >= 0 && t < T && j >= 0 && j < T ? { t, j } : null);
  };

  let hoverText = 'Hover a cell to see its query token, key token and weight.';
  if (result && hover) {
    const { t, j } = hover;
    const p = result.probs[t * T + j];
    hoverText =
      j > t
        ? `Query ${t} “${showToken(result.tokens[t])}” cannot see key ${j} “${showToken(result.tokens[j])}” (a later token: causal mask).`
        : `Query ${t} “${showToken(result.tokens[t])}” → key ${j} “${showToken(result.tokens[j])}”: weight ${p.toFixed(3)}`;
  }

  return (
    <section className="card heatmap" aria-labelledby="heatmap-heading">
      <h2 id="heatmap-heading">{HEATMAP_TITLE}</h2>
      <div className="row" style={{ flexWrap: 'wrap' }}>
        <label className="field row" style={{ margin: 0 }}>
          Layer
          <select value={Math.min(layer, layers - 1)} onChange={(e) => setSetting('layer', Number(e.target.value))}>
            {Array.from({ length: layers }, (_, l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label className="field row" style={{ margin: 0 }}>
          Head
          <select value={Math.min(head, heads - 1)} onChange={(e) => setSetting('head', Number(e.target.value))}>
            {Array.from({ length: heads }, (_, h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
        </label>
        <span className="small muted" aria-live="polite">
          {!ready
            ? 'Waiting for the model…'
            : busy
              ? 'Computing…'
              : error
                ? ''
                : result
                  ? hasRope
                    ? `${variantLabel}, ${position === 'none' ? 'RoPE switched off' : 'with RoPE'}`
                    : variantLabel
                  : ''}
        </span>
      </div>
      {error && <p className="error-text">{error}</p>}
      <div style={{ display: 'flex', flexWrap: 'wrap', gap: '1rem', alignItems: 'flex-start' }}>
        <figure
          aria-label={HEATMAP_TITLE}
          // No wider than the grid (the hint sits beside it on a wide card), and free to shrink below it (a phone).
          style={{ margin: 0, flex: '1 1 auto', minWidth: 0, maxWidth: MAX_SIZE_PX }}
          data-state={result ? 'ready' : error ? 'error' : 'loading'}
          data-variant={result?.variant}
          data-rope={result ? (result.rope ? 'on' : 'off') : undefined}
          data-layer={result?.layer}
          data-head={result?.head}
          data-tokens={result ? T : undefined}
          data-checksum={result ? probsChecksum(result.probs) : undefined}
        >
          <figcaption className="small">
            Layer {result?.layer ?? layer}, head {result?.head ?? head} (counted from 0): how much each query token (rows, top to bottom)
            attends to each earlier key token (columns, left to right), on {T || 'a few'} tokens of Persuasion (the held-out novel). Blank
            above the diagonal: a token never sees later ones.
          </figcaption>
          {result ? (
            <canvas
              ref={canvasRef}
              role="img"
              aria-label={`Attention weights of layer ${result.layer}, head ${result.head} over ${T} tokens`}
              onMouseMove={onMove}
              onMouseLeave={() => setHover(null)}
              style={{ display: 'block', marginTop: '0.5rem', cursor: 'crosshair' }}
            />
          ) : (
            <div className="chart-empty" style={{ width: MAX_SIZE_PX, maxWidth: '100%', height: 200 }}>
              <p className="muted">{error ? 'No heatmap.' : 'Waiting for the model’s attention weights.'}</p>
            </div>
          )}
          <Legend />
          <p className="small" aria-live="polite" style={{ margin: '0.25rem 0 0' }}>
            {hoverText}
          </p>
        </figure>
        <p className="hint" style={{ maxWidth: '22rem' }}>
          With RoPE, each head’s weights depend on how far apart two tokens are, which gives many heads a positional pattern such as a
          bright diagonal band of attention to the most recent tokens; switch RoPE off or drop it and the model has only the causal mask and
          the tokens’ content to go on, so the pattern changes.
        </p>
      </div>
    </section>
  );
}
