import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { rmSync } from 'node:fs';
import { EgressPolicyRules } from '/work/main/electron/core/egress/policy.js';
import { EgressProxy } from '/work/main/electron/core/egress/proxy.js';
import { TunnelReads } from '/work/main/electron/core/egress/tunnel-reads.js';
let calls = 0, bytes = 0;
const orig = (TunnelReads.prototype as any);
rmSync('/tmp/fx/p.sock', { force: true });
const rules = new EgressPolicyRules({ policy: 'allowlist', allowHosts: ['bench.test', '127.0.0.2'] });
await EgressProxy.listen({ rules, socketPath: '/tmp/fx/p.sock', resolve: async () => ['127.0.0.2'], onConnection: () => {} });
for (let i = 0; i < 5; i++) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  await new Promise<void>((res) => {
    const s = connect('/tmp/fx/p.sock');
    let got = 0, head = false;
    s.on('data', (d: Buffer) => { if (!head) { head = true; s.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'); return; } got += d.length; });
    s.on('end', () => res());
    s.write('CONNECT bench.test:9100 HTTP/1.1\r\n\r\n');
  });
  const cu = process.cpuUsage(c0);
  console.log((performance.now() - t0).toFixed(0), 'ms', ((cu.user + cu.system) / 1000).toFixed(0), 'ms cpu (client+proxy in one process)');
}
process.exit(0);
