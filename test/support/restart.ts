// Restarts an in-process test server on the same port and data directory, so its clients reconnect to the same URL.

import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/servers.js';
import type { TestServer } from './server.js';

export async function restartOnSamePort(server: TestServer, between: () => Promise<void> = async () => {}): Promise<TestServer> {
  await server.close();
  await between();
  const again = await startServer({
    chartPaths: [server.chartDir], dataDir: server.dataDir, port: server.port, host: '127.0.0.1',
    log: createLogger((process.env['CHARTD_TEST_LOG'] as 'info' | undefined) ?? 'silent'),
  });
  return Object.assign(again, { dataDir: server.dataDir, chartDir: server.chartDir });
}
