/** Writes outpost-worker.yaml from manifests.ts: `npm run render:kubernetes` (a test fails when the two differ). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dumpYaml } from '@kubernetes/client-node';
import { manifests } from './manifests.js';

export const YAML_FILE = fileURLToPath(new URL('outpost-worker.yaml', import.meta.url));

const HEADER = `# Generated from deploy/kubernetes/manifests.ts by \`npm run render:kubernetes\`: edit that file, not this one.
# Before applying, create the key's Secret (never in a file you commit):
#   kubectl create namespace outpost
#   kubectl -n outpost create secret generic outpost-environment-key --from-file=environment-key=./environment-key
# and set OUTPOST_BASE_URL and OUTPOST_ENVIRONMENT_ID in the ConfigMap below.
`;

export function render(): string {
  return HEADER + manifests.map((m) => `---\n${dumpYaml(m)}`).join('');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(YAML_FILE, render());
