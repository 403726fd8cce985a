/** uPlot, loaded only when a chart is drawn (its own chunk, with its stylesheet): a first visit to
 * the Calendar never downloads it. */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { userZone } from "../time";
import type { LineSpec } from "./LineChart";

export function draw(el: HTMLElement, spec: LineSpec): { destroy(): void } {
  const format = spec.format ?? ((v: number) => String(v));
  const chart = new uPlot(
    {
      width: Math.max(el.clientWidth, 280),
      height: spec.height ?? 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), userZone),
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [{}, { values: (_u, ticks) => ticks.map(format), size: 60 }],
      series: [
        {},
        ...spec.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          spanGaps: true,
          points: { show: true, size: 6 },
          value: (_u: uPlot, v: number | null) => (v == null ? "–" : format(v)),
        })),
      ],
    },
    [spec.x, ...spec.series.map((s) => s.values)] as uPlot.AlignedData,
    el,
  );
  const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(el.clientWidth, 280), height: spec.height ?? 220 }));
  resize.observe(el);
  return {
    destroy() {
      resize.disconnect();
      chart.destroy();
    },
  };
}
