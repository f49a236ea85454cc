import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openInBrowser } from '../../playground/open-in-browser.js';
import { waitFor } from '../helpers/worker.js';

/** Every local user can read every process's argv (`ps`, /proc/<pid>/cmdline): the dashboard's token must never be in one. */
describe('the demo opens the dashboard without putting its token in a command line', () => {
  it('the opener gets a private one-time page, not the address; the page carries the address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-opener-'));
    const record = join(dir, 'argv');
    const opener = join(dir, 'fake-xdg-open');
    // Records its own command line as the kernel has it, and the page it was given while it exists.
    writeFileSync(opener, `#!/bin/sh\ntr '\\0' '\\n' < /proc/$$/cmdline > ${record}.tmp\ncat "$1" >> ${record}.tmp 2>/dev/null\nmv ${record}.tmp ${record}\n`);
    chmodSync(opener, 0o755);
    const token = 'tok-0123456789abcdef0123456789abcdef';
    const address = `http://127.0.0.1:4567/#token=${token}`;
    const opened = openInBrowser(address, { opener, removeAfterMs: 60_000 });
    assert.ok(opened, 'an opener ran');
    const seen = (await waitFor('the opener to run', () => {
      try {
        return readFileSync(record, 'utf8');
      } catch {
        return undefined;
      }
    }))!;
    const [argvPart] = seen.split('<!doctype html>');
    assert.ok(!argvPart!.includes(token), `the token is in the opener's command line: ${argvPart}`);
    assert.ok(argvPart!.includes(opened.page), 'the opener was given the page');
    assert.equal(statSync(opened.page).mode & 0o777, 0o600, 'only this user can read the page');
    assert.ok(readFileSync(opened.page, 'utf8').includes(JSON.stringify(address)), 'the page sends the browser to the address');
    opened.remove();
    assert.throws(() => statSync(opened.page), /ENOENT/, 'removed once used');
  });
});
