/**
 * `npm run diagrams`: writes docs/state-machines.md (mermaid) from the machines' own transition functions, by running
 * the (state, event) sweep of every module named `*.sweep.ts` under test/ that exports `sweep` (test/diagrams/sweep.ts).
 * Nothing is drawn by hand: an edge is there because the transition function took that step on a sample.
 *
 *   npm run diagrams            write the file
 *   npm run diagrams -- --check exit 1 if the committed file is not what the code gives (CI)
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import type { SweepDescription, SweepOutcome } from './sweep.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUTPUT = join(ROOT, 'docs', 'state-machines.md');

/** Every `*.sweep.ts` under test/, sorted by path (a stable document order). */
export function sweepModules(root = ROOT): string[] {
  return (readdirSync(join(root, 'test'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.sweep.ts'))
    .map((f) => join(root, 'test', f))
    .sort();
}

export async function loadSweeps(files = sweepModules()): Promise<{ file: string; sweep: SweepDescription }[]> {
  const out: { file: string; sweep: SweepDescription }[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(file).href)) as { sweep?: SweepDescription };
    if (mod.sweep === undefined) throw new Error(`${relative(ROOT, file)} exports no sweep`);
    out.push({ file, sweep: mod.sweep });
  }
  return out;
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly event: string;
  readonly effects: readonly string[];
}

/** One machine's edges (every depth) and its outcome matrix (the samples only, as its sweep test). */
export function explore(sw: SweepDescription): { edges: Edge[]; matrix: Map<string, Map<string, Set<string>>> } {
  const edges = new Map<string, Edge>();
  const matrix = new Map<string, Map<string, Set<string>>>();
  const cell = (kind: string, event: string): Set<string> => {
    let row = matrix.get(kind);
    if (row === undefined) matrix.set(kind, (row = new Map()));
    let c = row.get(event);
    if (c === undefined) row.set(event, (c = new Set()));
    return c;
  };
  let frontier: unknown[] = sw.states.map((s) => s.state);
  const seen: unknown[] = [...frontier];
  const depth = sw.depth ?? 1;
  for (let d = 0; d <= depth && frontier.length > 0; d++) {
    const next: unknown[] = [];
    for (const state of frontier) {
      const from = sw.kindOf(state);
      for (const [i, event] of [...sw.events, ...(sw.moreEvents ?? [])].entries()) {
        const name = sw.eventName(event);
        if (d === 0 && i >= sw.events.length) continue;
        const r: SweepOutcome = sw.step(state, event);
        if (d === 0) cell(from, name).add(label(r, from, sw));
        if (r.outcome !== 'step') continue;
        const to = sw.kindOf(r.to);
        const effects = [...new Set(r.effects)].sort();
        const key = `${from}|${name}|${to}|${effects.join(',')}`;
        if (!edges.has(key)) edges.set(key, { from, to, event: name, effects });
        if (!seen.some((s) => isDeepStrictEqual(s, r.to))) {
          seen.push(r.to);
          next.push(r.to);
        }
      }
    }
    frontier = next;
  }
  return { edges: [...edges.values()], matrix };
}

function label(r: SweepOutcome, from: string, sw: SweepDescription): string {
  switch (r.outcome) {
    case 'ignored':
      return 'ignored';
    case 'refused':
      return `refused ${r.code.replace(/^COURT_E_/, '')}`;
    case 'step': {
      const to = sw.kindOf(r.to);
      return to === from ? 'stays' : `→ ${to}`;
    }
  }
}

const order = (list: readonly string[], v: string): number => {
  const i = list.indexOf(v);
  return i < 0 ? list.length : i;
};

export function renderMachine(sw: SweepDescription): string {
  const { edges, matrix } = explore(sw);
  const eventNames = sw.events.map((e) => sw.eventName(e));
  const sorted = [...edges].sort(
    (a, b) =>
      order(sw.kinds, a.from) - order(sw.kinds, b.from) ||
      order(sw.kinds, a.to) - order(sw.kinds, b.to) ||
      order(eventNames, a.event) - order(eventNames, b.event) ||
      a.effects.join(',').localeCompare(b.effects.join(',')),
  );
  const lines: string[] = [];
  lines.push(`## ${sw.machine}`, '');
  lines.push(`${sw.summary}. Transition function: \`${sw.source}\`; ${sw.states.length} sample states × ${sw.events.length} sample events.`, '');
  lines.push('```mermaid', 'stateDiagram-v2');
  for (const i of typeof sw.initial === 'string' ? [sw.initial] : sw.initial) lines.push(`    [*] --> ${i}`);
  // One arrow per (from, to), labelled with every event that takes it.
  const arrows = new Map<string, string[]>();
  for (const e of sorted) {
    if (e.from === e.to) continue;
    const k = `${e.from}|${e.to}`;
    const list = arrows.get(k) ?? [];
    if (!list.includes(e.event)) list.push(e.event);
    arrows.set(k, list);
  }
  for (const [k, events] of arrows) {
    const [from, to] = k.split('|');
    lines.push(`    ${from} --> ${to} : ${events.join(', ')}`);
  }
  for (const t of sw.terminal) lines.push(`    ${t} --> [*]`);
  lines.push('```', '');
  lines.push('### Steps and their effects', '');
  lines.push('| from | event | to | effects |', '| --- | --- | --- | --- |');
  for (const e of sorted) lines.push(`| ${e.from} | ${e.event} | ${e.to === e.from ? '(stays)' : e.to} | ${e.effects.length === 0 ? '-' : e.effects.join(', ')} |`);
  lines.push('');
  lines.push('### Every (state, event) pair of the samples', '');
  lines.push('"ignored": same state, nothing written; "refused CODE": answered with COURT_E_CODE, nothing written; several entries: the samples of that kind differ.', '');
  lines.push(`| state | ${eventNames.join(' | ')} |`, `| --- |${eventNames.map(() => ' --- |').join('')}`);
  // The listed kinds in their order, then any kind a sample has that the list does not name (a new kind or stage).
  const rows = [...sw.kinds, ...[...matrix.keys()].filter((k) => !sw.kinds.includes(k)).sort()];
  for (const kind of rows) {
    const row = matrix.get(kind);
    if (row === undefined) continue;
    lines.push(`| ${kind} | ${eventNames.map((ev) => [...(row.get(ev) ?? [])].sort().join('; ')).join(' | ')} |`);
  }
  const unreached = sw.kinds.filter((k) => !matrix.has(k));
  if (unreached.length > 0) lines.push('', `No sample state of: ${unreached.join(', ')}.`);
  lines.push('');
  return lines.join('\n');
}

export async function renderDocument(): Promise<string> {
  const sweeps = await loadSweeps();
  const parts = [
    '# State machines',
    '',
    '<!-- Generated by `npm run diagrams` (test/diagrams/generate.ts); do not edit by hand. -->',
    '',
    "Drawn from each machine's transition function by running its (state, event) sweep: every sample state against",
    'every sample event, then the states those steps reach, a few steps further (each sweep sets its depth). A',
    'machine joins this page by exporting a `sweep` (test/diagrams/sweep.ts) from a `*.sweep.ts` module under',
    'test/. Sources:',
    '',
    ...sweeps.map(({ file, sweep }) => `- ${sweep.machine}: \`${relative(ROOT, file)}\``),
    '',
    ...sweeps.map(({ sweep }) => renderMachine(sweep)),
  ];
  return parts.join('\n');
}

async function main(): Promise<void> {
  const doc = await renderDocument();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(OUTPUT, 'utf8');
    } catch {
      // missing: stale
    }
    if (current !== doc) {
      process.stderr.write(`${relative(ROOT, OUTPUT)} is stale: run npm run diagrams\n`);
      process.exitCode = 1;
    }
    return;
  }
  writeFileSync(OUTPUT, doc);
  process.stdout.write(`wrote ${relative(ROOT, OUTPUT)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
