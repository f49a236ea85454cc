import { join } from 'node:path';
import type { Logger } from '../logs/log.js';
import type { Outpost } from '../outpost.js';
import { packageRoot } from '../runtime/session-image.js';
import { DashboardServer } from './server.js';
import { terminal } from '../cli/terminal.js';

/**
 * `outpost worker --dashboard`: Outpost's window served to a browser on 127.0.0.1, attached to
 * an open Outpost as the desktop app attaches its window. Prints the URL (with its token);
 * null when it cannot listen (said in the log).
 */
export async function attachDashboard(outpost: Outpost, opts: { port: number; logger: Logger }): Promise<DashboardServer | null> {
  const dashboard = new DashboardServer({ service: outpost, root: join(packageRoot(), 'dist', 'renderer'), logger: opts.logger, port: opts.port });
  try {
    terminal.out(`Dashboard: ${await dashboard.start()}\n`);
    return dashboard;
  } catch (e) {
    opts.logger.error(`the dashboard cannot listen on 127.0.0.1:${opts.port}`, { error: (e as Error).message });
    return null;
  }
}
