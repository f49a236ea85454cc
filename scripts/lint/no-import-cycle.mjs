/**
 * ESLint rule: no import cycle among the project's own modules, type-only imports included.
 *
 * import-x/no-cycle skips `import type`, since it is erased at run time; but a type that goes back
 * up is still a part that knows of the one above it, and the next edit turns it into a value
 * import. Folders are layers (egress below runtime, the warm pool below the supervisor): a cycle
 * of any kind between them means a shared piece belongs further down.
 *
 * Every relative specifier counts: `import`, `import type`, `export … from`, and `import()`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** file → { mtimeMs, targets }: a long-lived ESLint (an editor) sees edits. */
const cache = new Map();

function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The file a relative specifier names: NodeNext's `.js` maps to the `.ts`/`.tsx` beside it. */
export function resolveSpecifier(from, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier);
  const stem = base.replace(/\.(m?js|jsx)$/, '');
  const candidates = [base, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, join(base, 'index.ts')];
  return candidates.find(isFile);
}

function targetsOf(file) {
  const mtimeMs = existsSync(file) ? statSync(file).mtimeMs : 0;
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.targets;
  const text = readFileSync(file, 'utf8');
  const { importedFiles } = ts.preProcessFile(text, true, false);
  const targets = [...new Set(importedFiles.map((f) => resolveSpecifier(file, f.fileName)).filter(Boolean))];
  cache.set(file, { mtimeMs, targets });
  return targets;
}

/** A path of imports from `start` back to `goal`, or undefined. */
function pathBack(start, goal) {
  const seen = new Set([start]);
  const queue = [[start]];
  while (queue.length) {
    const route = queue.shift();
    for (const next of targetsOf(route[route.length - 1])) {
      if (next === goal) return route;
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push([...route, next]);
    }
  }
  return undefined;
}

export const noImportCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'no import cycle among our own modules, type-only imports included' },
    messages: { cycle: 'import cycle: {{route}} (type imports count: move what both need further down)' },
    schema: [],
  },
  create(context) {
    const file = context.physicalFilename;
    if (!isFile(file)) return {};
    const check = (node, source) => {
      if (source?.type !== 'Literal' || typeof source.value !== 'string') return;
      const target = resolveSpecifier(file, source.value);
      if (!target || target === file) return;
      const route = pathBack(target, file);
      if (!route) return;
      const cwd = context.cwd;
      context.report({ node, messageId: 'cycle', data: { route: [file, ...route, file].map((p) => relative(cwd, p)).join(' → ') } });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source),
    };
  },
};

export default { rules: { 'no-import-cycle': noImportCycle } };
