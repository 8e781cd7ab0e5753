// bench/RESULTS.md: each run's section goes in below the marker, newest
// first (the file is made with the marker when it is missing).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const RESULTS_MARKER = '<!-- runs, newest first; make bench adds one here -->';

// Put section into benchDir/RESULTS.md; returns the file's path.
export function recordSection(benchDir, section) {
  const file = path.join(benchDir, 'RESULTS.md');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : `# Benchmark results\n\n${RESULTS_MARKER}\n`;
  if (!text.includes(RESULTS_MARKER)) text += `\n${RESULTS_MARKER}\n`;
  const at = text.indexOf(RESULTS_MARKER) + RESULTS_MARKER.length;
  writeFileSync(file, `${text.slice(0, at)}\n\n${section.trim()}\n\n${text.slice(at).trimStart()}`);
  return file;
}
