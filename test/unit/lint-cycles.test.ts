import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

/** The project's lint config run on a few files that import each other in a scratch folder laid out like ours. */
describe('lint: the core stays layered', () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-lint-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'electron/core/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
    'electron/core/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    'renderer/src/App.tsx': "import { View } from './views/View.js';\nexport const title = 'Outpost';\nexport const App = () => <View />;\n",
    'renderer/src/views/View.tsx': "import { title } from '../App.js';\nexport const View = () => <p>{title}</p>;\n",
    // Only a type goes back: erased at run time, and still a circle between two parts.
    'shared/c.ts': "import { d } from './d.js';\nexport type C = 'c';\nexport const c = d;\n",
    'shared/d.ts': "import type { C } from './c.js';\nexport const d: C = 'c';\n",
    // Three files round, through a re-export.
    'electron/core/worker/x.ts': "export { y } from './y.js';\nexport const x = 1;\n",
    'electron/core/worker/y.ts': "import type { Z } from './z.js';\nexport const y = (z: Z) => z;\n",
    'electron/core/worker/z.ts': "import { x } from './x.js';\nexport type Z = typeof x;\n",
    // A straight line down is no cycle.
    'electron/core/store/top.ts': "import { bottom } from './bottom.js';\nexport const top = bottom;\n",
    'electron/core/store/bottom.ts': 'export const bottom = 1;\n',
    // egress/ sits below the runtime, even for a type.
    'electron/core/egress/up.ts': "import type { Runtime } from '../runtime/r.js';\nexport type Up = Runtime;\n",
    'electron/core/runtime/r.ts': 'export type Runtime = { id: string };\n',
    // The warm pool sits below the supervisor.
    'electron/core/worker/warm-pool.ts': "import type { S } from './supervisor.js';\nexport type W = S;\n",
    'electron/core/worker/supervisor.ts': 'export type S = 1;\n',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const eslint = new ESLint({ cwd: root, overrideConfigFile: fileURLToPath(new URL('../../eslint.config.js', import.meta.url)) });

  it('reports each end of a cycle, type-only and re-export edges included, and each import against the layers', async () => {
    const results = await eslint.lintFiles(Object.keys(files));
    const found = Object.fromEntries(results.map((r) => [r.filePath.slice(root.length + 1), r.messages.map((m) => `${m.line}:${m.ruleId ?? m.message}`)]));
    const cycle = ['1:outpost/no-import-cycle'];
    const layer = ['1:no-restricted-imports'];
    assert.deepEqual(found, {
      'electron/core/a.ts': cycle,
      'electron/core/b.ts': cycle,
      'renderer/src/App.tsx': cycle,
      'renderer/src/views/View.tsx': cycle,
      'shared/c.ts': cycle,
      'shared/d.ts': cycle,
      'electron/core/worker/x.ts': cycle,
      'electron/core/worker/y.ts': cycle,
      'electron/core/worker/z.ts': cycle,
      'electron/core/store/top.ts': [],
      'electron/core/store/bottom.ts': [],
      'electron/core/egress/up.ts': layer,
      'electron/core/runtime/r.ts': [],
      'electron/core/worker/warm-pool.ts': layer,
      'electron/core/worker/supervisor.ts': [],
    });
  });

  it('names the route of a cycle', async () => {
    const [result] = await eslint.lintFiles(['shared/c.ts']);
    assert.match(result!.messages[0]!.message, /shared\/c\.ts → shared\/d\.ts → shared\/c\.ts/);
  });

  it('finds no cycle and no layer crossed in our own tree', async () => {
    const ours = new ESLint({ cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    const results = await ours.lintFiles(['electron', 'shared', 'renderer', 'session', 'playground']);
    const problems = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'outpost/no-import-cycle' || m.ruleId === 'no-restricted-imports').map((m) => `${r.filePath}:${m.line} ${m.message}`));
    assert.deepEqual(problems, []);
  });
});
