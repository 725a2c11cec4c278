/**
 * The bench's output: one table per measurement (`metric | median | p95 | baseline | ratio |
 * target | ok`), or with `--json` the same figures as one JSON object.
 */
import Table from 'cli-table3';

export interface Row {
  metric: string;
  unit: 'ms' | 'count' | '%' | 'MiB';
  /** The median over iterations, or the single value of a one-shot measurement. */
  value: number | null;
  p95: number | null;
  /** Baseline measured in the same run, and what it is. */
  baseline: number | null;
  baselineLabel: string | null;
  /** value / baseline. */
  ratio: number | null;
  target: string | null;
  ok: boolean | null;
  /** Samples behind `value`. */
  n: number;
}

export interface Section {
  id: string;
  title: string;
  /** Header of the value column: `median` for repeated measurements, `value` for one-shots. */
  valueLabel: 'median' | 'value';
  rows: Row[];
  notes: string[];
  /** Raw per-iteration figures (JSON only). */
  details: Record<string, unknown>;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  loadavg: number[];
  memoryGiB: number;
}

export interface BenchReport {
  bench: 'airlock';
  date: string;
  quick: boolean;
  machine: Machine;
  durationS: number;
  sections: Section[];
  /** Targets missed and problems found, one line each. */
  findings: string[];
}

/** A row; `ratio` is computed from value and baseline when both are present. */
export function row(
  metric: string,
  fields: Partial<Omit<Row, 'metric'>> & { value: number | null },
): Row {
  const baseline = fields.baseline ?? null;
  const value = fields.value;
  const ratio =
    fields.ratio !== undefined
      ? fields.ratio
      : value !== null && baseline !== null && baseline !== 0
        ? value / baseline
        : null;
  return {
    metric,
    unit: fields.unit ?? 'ms',
    value,
    p95: fields.p95 ?? null,
    baseline,
    baselineLabel: fields.baselineLabel ?? null,
    ratio,
    target: fields.target ?? null,
    ok: fields.ok ?? null,
    n: fields.n ?? 1,
  };
}

function formatValue(value: number | null, unit: Row['unit']): string {
  if (value === null || Number.isNaN(value)) return '—';
  if (unit === 'count') return Math.round(value).toLocaleString('en-US');
  if (unit === '%') return `${value.toFixed(1)} %`;
  if (unit === 'MiB') return `${value.toFixed(2)} MiB`;
  if (Math.abs(value) >= 100) return `${Math.round(value)} ms`;
  return `${value.toFixed(1)} ms`;
}

function formatRatio(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return '—';
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)}×`;
}

export function renderSection(section: Section): string {
  const table = new Table({
    head: ['metric', section.valueLabel, 'p95', 'baseline', 'ratio', 'target', 'ok'],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [54, 11, 10, 32, 8, 12, 5],
  });
  for (const r of section.rows) {
    const baseline =
      r.baseline === null
        ? '—'
        : `${formatValue(r.baseline, r.unit)}${r.baselineLabel ? ` (${r.baselineLabel})` : ''}`;
    table.push([
      r.n > 1 ? `${r.metric} (n=${r.n})` : r.metric,
      formatValue(r.value, r.unit),
      formatValue(r.p95, r.unit),
      baseline,
      formatRatio(r.ratio),
      r.target ?? '—',
      r.ok === null ? '' : r.ok ? 'yes' : 'NO',
    ]);
  }
  const notes = section.notes.map((n) => `  · ${n}`).join('\n');
  return `\n${section.title}\n${table.toString()}${notes ? `\n${notes}` : ''}\n`;
}

export function renderReport(report: BenchReport): string {
  const m = report.machine;
  const head = [
    `Airlock bench — ${report.date}${report.quick ? ' (--quick)' : ''}`,
    `machine: ${m.cpus} CPU (${m.cpuModel}), ${m.memoryGiB} GiB, node ${m.node}, ${m.platform}; load average at start ${m.loadavg.map((l) => l.toFixed(2)).join(' ')}`,
  ];
  const findings = report.findings.length
    ? `\nFindings:\n${report.findings.map((f) => `  - ${f}`).join('\n')}\n`
    : '';
  return `${head.join('\n')}\n${report.sections.map(renderSection).join('')}${findings}\nTotal bench time: ${report.durationS.toFixed(1)} s\n`;
}
