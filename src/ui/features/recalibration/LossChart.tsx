// The recalibration's training loss, step by step, as it arrives from the worker. Drawn as plain
// SVG rather than with recharts: it redraws on every optimizer step while the worker trains, and
// this costs well under a millisecond, where a recharts update costs tens (its internal store
// re-renders synchronously), so the page keeps every frame while it trains.

import { useEffect, useRef, useState } from 'react';

type Losses = { step: number; loss: number }[];

const HEIGHT = 170;
const MARGIN = { top: 10, right: 14, bottom: 36, left: 54 };

/** The width of an element, following resizes. */
function useWidth<T extends HTMLElement>(): [React.RefObject<T | null>, number] {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.floor(entry.contentRect.width)));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

/** Up to `count` round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

export function LossChart({ losses }: { losses: Losses }) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const last = losses[losses.length - 1];
  const steps = losses.map((p) => p.step);
  const values = losses.map((p) => p.loss);
  const x0 = 1;
  const x1 = Math.max(2, ...steps);
  let y0 = Math.min(...values);
  let y1 = Math.max(...values);
  const pad = Math.max((y1 - y0) * 0.1, 0.01);
  y0 -= pad;
  y1 += pad;
  const innerW = Math.max(10, width - MARGIN.left - MARGIN.right);
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (s: number) => MARGIN.left + ((s - x0) / (x1 - x0)) * innerW;
  const sy = (v: number) => MARGIN.top + (1 - (v - y0) / (y1 - y0)) * innerH;
  const xTicks = ticks(x0, x1, Math.min(6, x1)).filter((t) => Number.isInteger(t));
  const yTicks = ticks(y0, y1, 4);
  const path = losses.map((p) => `${sx(p.step).toFixed(1)},${sy(p.loss).toFixed(1)}`).join(' ');

  return (
    <figure className="loss-chart" aria-label="Recalibration loss">
      <div ref={ref} className="loss-plot">
        {width > 0 && (
          <svg width={width} height={HEIGHT} role="img" aria-labelledby="loss-title">
            <title id="loss-title">Recalibration loss</title>
            {yTicks.map((t) => (
              <g key={`y${t}`}>
                <line x1={MARGIN.left} x2={MARGIN.left + innerW} y1={sy(t)} y2={sy(t)} stroke="var(--grid)" strokeDasharray="3 3" />
                <text x={MARGIN.left - 6} y={sy(t)} dy="0.32em" textAnchor="end" className="tick">
                  {t.toFixed(2)}
                </text>
              </g>
            ))}
            {xTicks.map((t) => (
              <text key={`x${t}`} x={sx(t)} y={MARGIN.top + innerH + 16} textAnchor="middle" className="tick">
                {t}
              </text>
            ))}
            <line x1={MARGIN.left} x2={MARGIN.left + innerW} y1={MARGIN.top + innerH} y2={MARGIN.top + innerH} stroke="var(--axis)" />
            <line x1={MARGIN.left} x2={MARGIN.left} y1={MARGIN.top} y2={MARGIN.top + innerH} stroke="var(--axis)" />
            <text x={MARGIN.left + innerW / 2} y={HEIGHT - 4} textAnchor="middle" className="axis-label">
              Optimizer step
            </text>
            <text transform={`translate(14 ${MARGIN.top + innerH / 2}) rotate(-90)`} textAnchor="middle" className="axis-label">
              Loss (nats)
            </text>
            <polyline points={path} fill="none" stroke="#0072B2" strokeWidth={2} />
            {losses.length <= 40 && losses.map((p) => <circle key={p.step} cx={sx(p.step)} cy={sy(p.loss)} r={3} fill="#0072B2" />)}
          </svg>
        )}
      </div>
      <figcaption className="small muted">
        Training loss {last.loss.toFixed(3)} nats per token at step {last.step}
        {losses.length > 1 ? ` (step 1: ${losses[0].loss.toFixed(3)})` : ''}
      </figcaption>
    </figure>
  );
}
