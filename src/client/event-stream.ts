/** One Server-Sent Event as a browser's EventSource reads it (`event` defaults to `message`). */
export interface StreamFrame {
  readonly event: string;
  /** The `id:` line, when the frame had one (a heartbeat may carry an id and no data). */
  readonly id: string | null;
  /** The `data:` lines joined by newlines; '' for a frame without data. */
  readonly data: string;
}

/** The frames of an SSE body, as they arrive; comments (heartbeats) are skipped. */
export async function* readFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let id: string | null = null;
        const data: string[] = [];
        let fields = 0;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          fields++;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = text;
          else if (field === 'id') id = text;
          else if (field === 'data') data.push(text);
        }
        if (fields > 0) yield { event, id, data: data.join('\n') };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
