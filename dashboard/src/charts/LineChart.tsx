/** A line chart over time. The drawing library (uPlot, about 20 KB gzipped) is imported on first
 * use, so the views that show no chart, and the first page, never load it. */
import { useEffect, useRef, useState } from "preact/hooks";

export interface LineSeries {
  label: string;
  color: string;
  values: (number | null)[];
}

export interface LineSpec {
  /** Instants, in seconds since the epoch, ascending. */
  x: number[];
  series: LineSeries[];
  format?: (value: number) => string;
  height?: number;
}

export function LineChart({ title, spec }: { title: string; spec: LineSpec }) {
  const box = useRef<HTMLDivElement>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    let chart: { destroy(): void } | undefined;
    let gone = false;
    import("./uplot")
      .then(({ draw }) => {
        if (!gone && box.current) chart = draw(box.current, spec);
      })
      .catch((e: Error) => setProblem(`The chart could not be drawn: ${e.message}`));
    return () => {
      gone = true;
      chart?.destroy();
    };
  }, [spec]);

  return (
    <figure class="chart" aria-label={title}>
      <figcaption>{title}</figcaption>
      {problem ? <p class="problem">{problem}</p> : <div ref={box} class="plot" />}
    </figure>
  );
}
