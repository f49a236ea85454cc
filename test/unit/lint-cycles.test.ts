import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

/** The project's lint config run on a few files that import each other in a scratch folder laid out like ours. */
describe('lint: import-x/no-cycle', () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-lint-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'electron/core/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
    'electron/core/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    'renderer/src/App.tsx': "import { View } from './views/View.js';\nexport const title = 'Outpost';\nexport const App = () => <View />;\n",
    'renderer/src/views/View.tsx': "import { title } from '../App.js';\nexport const View = () => <p>{title}</p>;\n",
    // Only a type goes back: erased at compile time, so no cycle at run time.
    'shared/c.ts': "import { d } from './d.js';\nexport type C = 'c';\nexport const c = d;\n",
    'shared/d.ts': "import type { C } from './c.js';\nexport const d: C = 'c';\n",
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const eslint = new ESLint({ cwd: root, overrideConfigFile: fileURLToPath(new URL('../../eslint.config.js', import.meta.url)) });

  it('reports both ends of a value import cycle (.ts and .tsx), not a type-only back edge', async () => {
    const results = await eslint.lintFiles(Object.keys(files));
    const found = Object.fromEntries(results.map((r) => [r.filePath.slice(root.length + 1), r.messages.map((m) => `${m.line}:${m.ruleId ?? m.message}`)]));
    assert.deepEqual(found, {
      'electron/core/a.ts': ['1:import-x/no-cycle'],
      'electron/core/b.ts': ['1:import-x/no-cycle'],
      'renderer/src/App.tsx': ['1:import-x/no-cycle'],
      'renderer/src/views/View.tsx': ['1:import-x/no-cycle'],
      'shared/c.ts': [],
      'shared/d.ts': [],
    });
  });
});
