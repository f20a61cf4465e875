// Follows an instance's event stream over fetch, since EventSource cannot send the token; reconnects where it left off.

import { authHeaders } from './api';

export type WatchStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface WatchHandlers {
  /** A transition, a change that moved no state (revision), or 'open' once (re)connected, when changes may have been missed. */
  readonly onEvent: (type: string, data: unknown) => void;
  readonly onStatus: (status: WatchStatus, reason?: string) => void;
}

export function watchEvents(path: string, handlers: WatchHandlers, signal: AbortSignal): void {
  let lastId: string | undefined;
  let retryMs = 2000;

  /** Reads events until the stream ends; 'removed' when the server said the instance was deleted (nothing more to follow). */
  const readStream = async (body: ReadableStream<Uint8Array>): Promise<'ended' | 'removed'> => {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'ended';
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          if (colon === 0) continue;
          const field = colon === -1 ? line : line.slice(0, colon);
          const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') lastId = text;
          else if (field === 'event') type = text;
          else if (field === 'data') data.push(text);
          else if (field === 'retry' && /^\d+$/.test(text)) retryMs = Number(text);
        }
        if (type === 'removed') return 'removed';
        if (data.length) handlers.onEvent(type, JSON.parse(data.join('\n')));
      }
    }
  };

  const run = async (): Promise<void> => {
    while (!signal.aborted) {
      try {
        const response = await fetch(path, {
          headers: { ...authHeaders(), accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) }, signal, cache: 'no-store',
        });
        if (response.status >= 400 && response.status < 500) {
          handlers.onStatus('stopped', `the server refused the stream (${response.status})`);
          return;
        }
        if (!response.ok || !response.body) throw new Error(`status ${response.status}`);
        handlers.onStatus('live');
        handlers.onEvent('open', null);
        if ((await readStream(response.body)) === 'removed') {
          handlers.onStatus('stopped', 'the instance was deleted');
          return;
        }
      } catch (error) {
        if (signal.aborted) return;
      }
      handlers.onStatus('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  };
  handlers.onStatus('connecting');
  void run();
}
