/**
 * Incremental server-sent-events reader: feed it the response's text as it
 * arrives, get back each complete event's `data` (multi-line data joined with
 * "\n", as the SSE spec says). Comments and other fields are skipped.
 */
export class SseReader {
  private buffer = '';
  private data: string[] = [];

  feed(text: string): string[] {
    this.buffer += text;
    const events: string[] = [];
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, '');
      this.buffer = this.buffer.slice(newline + 1);
      if (line === '') {
        if (this.data.length > 0) events.push(this.data.join('\n'));
        this.data = [];
      } else if (line.startsWith('data:')) {
        this.data.push(line.slice(5).replace(/^ /, ''));
      }
    }
    return events;
  }
}
