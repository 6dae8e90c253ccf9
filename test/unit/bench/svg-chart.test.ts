import { describe, expect, it } from 'vitest';
import { renderBarChart } from '../../../bench/svg-chart.js';

const chart = {
  title: 'A & B <chart>',
  subtitle: 'sub "title"',
  unit: 'msg/s',
  series: [
    { name: 'producer', color: '#111111' },
    { name: 'consumer', color: '#222222' },
  ],
  groups: [
    { label: 'plain', values: [20_000, 40_000], notes: ['×1.00', '×1.00'] },
    { label: 'sealed', values: [10_000, 5_000], notes: ['×0.50', '×0.13'] },
  ],
};

/** Widths of the data bars (the rects with a series colour), in drawing order. */
function barWidths(svg: string): number[] {
  return [
    ...svg.matchAll(
      /<rect x="[0-9.]+" y="[0-9.]+" width="([0-9.]+)" height="16" fill="#(?:111111|222222)"\/>/g,
    ),
  ].map((m) => Number(m[1]));
}

describe('renderBarChart', () => {
  it('draws one bar per value, proportional to it', () => {
    const svg = renderBarChart(chart);
    const widths = barWidths(svg);
    expect(widths).toHaveLength(4);
    const [p0, c0, p1, c1] = widths as [number, number, number, number];
    expect(c0 / p0).toBeCloseTo(2, 2);
    expect(p1 / p0).toBeCloseTo(0.5, 2);
    expect(c1 / p0).toBeCloseTo(0.25, 2);
  });

  it('escapes text and keeps the document well formed', () => {
    const svg = renderBarChart(chart);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('A &amp; B &lt;chart&gt;');
    expect(svg).toContain('sub &quot;title&quot;');
    expect(svg).not.toContain('<chart>');
    expect(svg).toContain('20,000  ×1.00');
  });

  it('scales the axis to a round maximum at or above the largest value', () => {
    const svg = renderBarChart(chart);
    const ticks = [...svg.matchAll(/text-anchor="middle" fill="#555">([0-9,]+)</g)].map((m) =>
      Number(m[1]!.replace(/,/g, '')),
    );
    expect(ticks[0]).toBe(0);
    expect(ticks.at(-1)).toBe(50_000);
  });
});
