// A small server-sent-events client over fetch, for watching a run the way EventSource would.

export interface SseEvent {
  readonly id?: string;
  readonly event: string;
  readonly data: string;
}

export class EventStream {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** Resolves with 'end' when the server ends the stream cleanly, or with the error that broke it. */
  readonly ended: Promise<'end' | Error>;
  private readonly listeners = new Set<() => void>();
  private finished: 'end' | Error | undefined;

  private constructor(readonly response: Response, private readonly controller: AbortController) {
    this.ended = this.read().then(() => 'end' as const, (error: Error) => error).then((how) => {
      this.finished = how;
      for (const listener of this.listeners) listener();
      return how;
    });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<EventStream> {
    const controller = new AbortController();
    const response = await fetch(url, { headers, signal: controller.signal });
    if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
    return new EventStream(response, controller);
  }

  transitions(): { id: number; data: Record<string, unknown> }[] {
    return this.events.filter((event) => event.event === 'transition').map((event) => ({ id: Number(event.id), data: JSON.parse(event.data) as Record<string, unknown> }));
  }

  /** Resolves once `test` holds for the events so far; rejects if the stream ends first or `ms` pass. */
  until(test: (stream: EventStream) => boolean, ms = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`stream condition not met within ${ms} ms; events: ${JSON.stringify(this.events)}`)), ms);
      const check = (): void => {
        if (test(this)) finish();
        else if (this.finished) finish(new Error(`stream ended (${String(this.finished)}) before the condition held; events: ${JSON.stringify(this.events)}`));
      };
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.listeners.add(check);
      check();
    });
  }

  close(): void {
    this.controller.abort();
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        this.parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
      for (const listener of this.listeners) listener();
    }
    if (buffer.trim()) throw new Error(`stream ended in the middle of an event: ${buffer}`);
  }

  private parse(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length) this.events.push({ ...(id !== undefined ? { id } : {}), event, data: data.join('\n') });
  }
}
