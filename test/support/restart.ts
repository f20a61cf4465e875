// Restarts an in-process test server on the same port and data directory, so its clients reconnect to the same URL.

import { startServer } from '../../src/servers.js';
import type { TestServer } from './server.js';

export async function restartOnSamePort(server: TestServer, between: () => Promise<void> = async () => {}): Promise<TestServer> {
  await server.close();
  await between();
  const config = { ...server.config, port: server.port };
  const again = await startServer(config);
  return Object.assign(again, { dataDir: server.dataDir, chartDir: server.chartDir, config });
}
